"""The KL-divergence check behind ``kld_check`` and a suite's ``checks.kld``: the text tokenized into windows,
the base distribution read from its compact golden (or recorded from the original at f32), the optimized
model run on the same windows, llama.cpp's figures and the bootstrap intervals judged against the budget."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import CheckFailed, ConfigError, ModelError
from .golden import place_golden, rerecord_command
from .golden_compare import GoldenCheckFailed, GoldenPolicy, GoldenTest, ci_refusal
from .records import store_record
from .verdict import Verdict

KIND = "llm-logits"
# What a logit golden holds per scored token: the base's top-k log-probs (fp16) and ids, the log-prob of the
# token that came next, and the mass outside the top k (summed before the fp16 rounding).
GOLDEN_ARRAYS = ("top_logprobs", "top_ids", "target_logprob", "residual_mass")
DEFAULT_CONTEXT = 256
PER_TOKEN_KEPT = 8192  # per-token KL divergences a report keeps (3 significant digits each)


@dataclass
class KLDResult(Verdict):
    context: int
    windows: int
    stats: Any  # kld.KLDStats
    golden: str
    action: str  # "compared" | "recorded" | "re-recorded"
    per_token: Any = None  # the KL divergence of each scored token, in text order (for the HTML report)

    def to_dict(self) -> dict[str, Any]:
        tokens = [] if self.per_token is None else [float(f"{v:.3g}") for v in self.per_token[:PER_TOKEN_KEPT]]
        return {
            **self.common(),
            "context": self.context,
            "windows": self.windows,
            "golden": self.golden,
            "action": self.action,
            "stats": self.stats.to_dict(),
            "per_token_kld": tokens,
        }

    def render(self) -> str:
        what = (
            f"{self.stats.tokens} tokens scored ({self.windows} windows of {self.context}) [gate: {self.budget.gate}]"
        )
        return self.message("KL divergence", what, self.stats.render())


@dataclass(frozen=True)
class Windows:
    tokens: Any  # (windows, context) int64
    first: int  # the first scored position of each window (context // 2, as llama.cpp)

    @property
    def targets(self) -> Any:
        return self.tokens[:, self.first + 1 :]

    def sha256(self) -> str:
        import numpy as np

        return hashlib.sha256(np.ascontiguousarray(self.tokens, dtype=np.int64).tobytes()).hexdigest()


def windows_of(ids: Any, context: int, limit: int | None, where: str) -> Windows:
    """The text's tokens cut into whole windows of ``context`` tokens (at most ``limit``)."""
    n = len(ids) // context
    if n < 1:
        raise ConfigError(
            f"{where}: the text has {len(ids)} tokens, fewer than context={context}: give a longer text or a smaller "
            f"context (KL divergence is scored on the second half of each window of {context} tokens)"
        )
    if limit is not None:
        n = min(n, limit)
    return Windows(ids[: n * context].reshape(n, context), context // 2)


def same_tokens(original: Any, optimized: Any, text: str, original_ids: Any) -> None:
    """Refuse a pair whose tokenizers turn ``text`` into different tokens: their distributions would be
    over different things."""
    import numpy as np

    if original.tokenizer_digest == optimized.tokenizer_digest:
        return
    other = optimized.encode(text)
    if len(other) == len(original_ids) and np.array_equal(other, original_ids):
        return
    n = min(len(other), len(original_ids))
    diff = np.nonzero(other[:n] != original_ids[:n])[0]
    at = int(diff[0]) if len(diff) else n
    raise ModelError(
        f"tokenizer mismatch: the original ({original.label}) and the optimized model ({optimized.label}) tokenize the "
        f"text differently ({len(original_ids)} vs {len(other)} tokens; first difference at token {at}: "
        f"{original_ids[at : at + 3].tolist()} vs {other[at : at + 3].tolist()}); KL divergence compares distributions over "
        "the same tokens: give the optimized model the original's tokenizer (openvino_tokenizer.xml/.bin)"
    )


def run_kld_check(
    *,
    session: Any,
    item: Any,
    owner: str,
    base_dir: Path,
    marker: Any,
    device: Any,
    budget: Any,
    text: str,
    context: int = DEFAULT_CONTEXT,
    windows: int | None = None,
    name: str | None = None,
    calibration: str | None = None,
    where: str = "kld_check",
) -> KLDResult:
    __tracebackhide__ = True
    from .. import kld
    from ..kld_budget import judge
    from ..llm_session import language_model, marked_llms, require_openvino

    _check_args(text, context, windows, where)
    require_openvino(device, where)
    pair = marked_llms(session, marker, base_dir, calibration)
    if pair.optimized is None:
        raise ConfigError(f"{where}: the edge_model marker names no optimized model to compare with the original")
    original = language_model(session, pair.original, reference_device(session), "f32", "original")
    optimized = language_model(
        session, pair.optimized, device, marker.options.get("precision"), "optimized", marker.options.get("properties")
    )
    ids = original.encode(text)
    same_tokens(original, optimized, text, ids)
    cut = windows_of(ids, context, windows, where)
    base, rel, action = _base(session, item, owner, name, device, pair.original, original, cut, budget.top_k)
    import numpy as np

    figs = [
        kld.token_figures(_rows(base, i, cut), optimized.logprobs(w, cut.first), cut.targets[i])
        for i, w in enumerate(cut.tokens)
    ]
    joined = kld.TokenFigures(
        *(np.concatenate([getattr(f, k) for f in figs]) for k in kld.TokenFigures.__dataclass_fields__)
    )
    stats = kld.summarize(joined, block=budget.block, confidence=budget.confidence, resamples=budget.resamples)
    result = KLDResult(
        original=pair.original.name,
        optimized=pair.optimized.name,
        device=device.id,
        context=context,
        windows=len(cut.tokens),
        stats=stats,
        budget=budget,
        golden=rel,
        action=action,
        failures=judge(stats, budget),
        per_token=joined.kld,
        built=pair.built,
    )
    store_record(item, "kld", getattr(item, "title", owner), device.id, result)
    if not result.ok:
        raise CheckFailed(result.render())
    return result


def reference_device(session: Any) -> Any:
    """Where the original runs for the base distribution: the golden device when it is an OpenVINO one."""
    from ..types import OPENVINO, DeviceSpec

    device = session.settings.golden_device
    return device if device.runtime == OPENVINO else DeviceSpec(OPENVINO, "CPU")


def _check_args(text: Any, context: Any, windows: Any, where: str) -> None:
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(
            f"{where}: text={type(text).__name__ if not isinstance(text, str) else 'empty str'}; expected the text to score (a str)"
        )
    if isinstance(context, bool) or not isinstance(context, int) or context < 4:
        raise ConfigError(f"{where}: context={context!r}; expected an int of at least 4 tokens (e.g. 256)")
    if windows is not None and (isinstance(windows, bool) or not isinstance(windows, int) or windows < 1):
        raise ConfigError(f"{where}: windows={windows!r}; expected a positive int (the most windows to score) or None")


def _rows(base: Any, i: int, cut: Windows) -> Any:
    from .. import kld

    per = cut.tokens.shape[1] - cut.first - 1
    s = slice(i * per, (i + 1) * per)
    return kld.BaseLogits(*(getattr(base, k)[s] for k in GOLDEN_ARRAYS))


def _base(
    session: Any,
    item: Any,
    owner: str,
    name: str | None,
    device: Any,
    model: Any,
    original: Any,
    cut: Windows,
    top_k: int,
) -> tuple[Any, str, str]:
    """The base distribution from the item's golden, recorded (or re-recorded) from the original when the
    policy allows; a missing or stale golden otherwise fails with the command that records it."""
    __tracebackhide__ = True
    from .. import golden as store
    from .. import kld

    settings = session.settings
    root = settings.golden_dir
    rel, read_rel = place_golden(item, root, owner, name)
    path, source = root / rel, root / read_rel
    policy = GoldenPolicy(mode=settings.update_golden, force=settings.golden_force, ci=settings.ci)
    want = _provenance(model, original, cut, top_k)
    existing = store.read(source) if source.exists() else None
    stale = _stale(existing.manifest.get("llm", {}), want) if existing is not None else []
    command = rerecord_command(item, device, settings)
    if store.update_allowed(policy.mode, existing is not None, bool(stale)):
        refusal = ci_refusal(policy)
        if refusal:
            raise GoldenCheckFailed(f"golden {path}: {refusal}")
        import numpy as np

        rows = [kld.compact(original.logprobs(w, cut.first), cut.targets[i], top_k) for i, w in enumerate(cut.tokens)]
        base = kld.BaseLogits(*(np.concatenate([getattr(r, k) for r in rows]) for k in GOLDEN_ARRAYS))
        manifest = _manifest(owner, name, original, want)
        outputs = {k: getattr(base, k) for k in GOLDEN_ARRAYS}
        store.write(path, outputs, manifest, root=root)
        return base, rel, "re-recorded" if existing is not None else "recorded"
    if existing is None:
        raise GoldenCheckFailed(
            f"golden {path} does not exist; record the base distribution from the original (f32, "
            f"{original.device}) with:\n    {command}=new"
        )
    if stale:
        reasons = "\n".join(f"  - {r}" for r in stale)
        raise GoldenCheckFailed(f"golden {source} is stale:\n{reasons}\nre-record it with:\n    {command}")
    out = existing.outputs
    lacking = [k for k in GOLDEN_ARRAYS if k not in out]
    if lacking:
        raise GoldenCheckFailed(f"golden {source} lacks {', '.join(lacking)}; re-record it with:\n    {command}")
    return kld.BaseLogits(*(out[k] for k in GOLDEN_ARRAYS)), read_rel, "compared"


def _provenance(model: Any, original: Any, cut: Windows, top_k: int) -> dict[str, Any]:
    return {
        "model_sha256": model.sha256,
        "tokenizer_sha256": original.tokenizer_digest,
        "text_sha256": cut.sha256(),
        "context": int(cut.tokens.shape[1]),
        "windows": int(cut.tokens.shape[0]),
        "top_k": int(top_k),
    }


_WHAT = {
    "model_sha256": "the original model",
    "tokenizer_sha256": "the tokenizer",
    "text_sha256": "the text's tokens",
    "context": "context",
    "windows": "the number of windows",
    "top_k": "top_k",
}


def _stale(recorded: dict[str, Any], want: dict[str, Any]) -> list[str]:
    out = []
    for key, value in want.items():
        was = recorded.get(key)
        if was != value:
            shown = (str(was)[:12], str(value)[:12]) if key.endswith("sha256") else (was, value)
            out.append(f"{_WHAT[key]} changed since it was recorded ({shown[0]} -> {shown[1]})")
    return out


def _manifest(owner: str, name: str | None, original: Any, want: dict[str, Any]) -> dict[str, Any]:
    import openvino

    from .. import __version__
    from .. import golden as store

    return {
        "test": GoldenTest(owner=owner, device=None, name=name).to_dict(),
        "kind": KIND,
        "llm": want,
        "inputs": {"sha256": want["text_sha256"], "tokens": want["context"] * want["windows"]},
        "model": {"path": original.folder.name, "sha256": want["model_sha256"]},
        "recorded_with": {
            "runtime": getattr(original, "runtime", "openvino"),  # "llama.cpp" for a GGUF llama.cpp runs
            "runtime_version": getattr(original, "runtime_version", None) or openvino.get_version(),
            "device": original.device,
            "precision": "f32",
        },
        "plugin_version": __version__,
        **store.provenance(),
    }
