"""The generation check behind ``generation_check`` and a suite's ``checks.generation``: each prompt
generated greedily by the original (f32) and the optimized model, the tokens compared position by position."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import CheckFailed, ConfigError
from .kld import reference_device, same_tokens
from .records import store_record
from .verdict import Verdict


def prompts_of(prompts: Any, where: str) -> list[str]:
    if isinstance(prompts, str):
        prompts = [prompts]
    try:
        out = list(prompts)
    except TypeError:
        raise ConfigError(f"{where}: prompts={type(prompts).__name__}; expected a str or a list of str") from None
    bad = [i for i, p in enumerate(out) if not isinstance(p, str) or not p.strip()]
    if not out or bad:
        what = "an empty list" if not out else f"item {bad[0]} is {out[bad[0]]!r}"
        raise ConfigError(f"{where}: prompts is {what}; expected one or more non-empty strings")
    return out


def run_generation_check(
    *,
    session: Any,
    item: Any,
    owner: str,
    base_dir: Path,
    marker: Any,
    device: Any,
    budget: Any,
    prompts: Any,
    calibration: str | None = None,
    where: str = "generation_check",
) -> Any:
    __tracebackhide__ = True
    from .. import generation
    from ..llm_session import language_model, marked_llms, require_openvino

    texts = prompts_of(prompts, where)
    require_openvino(device, where)
    pair = marked_llms(session, marker, base_dir, calibration)
    if pair.optimized is None:
        raise ConfigError(f"{where}: the edge_model marker names no optimized model to compare with the original")
    original = language_model(session, pair.original, reference_device(session), "f32", "original")
    optimized = language_model(
        session, pair.optimized, device, marker.options.get("precision"), "optimized", marker.options.get("properties")
    )
    same_tokens(original, optimized, "\n".join(texts), original.encode("\n".join(texts)))
    n = budget.max_new_tokens
    ids_a = [original.generate(p, n) for p in texts]
    ids_b = [optimized.generate(p, n) for p in texts]
    result = generation.compare(
        texts, ids_a, ids_b, [original.decode(i) for i in ids_a], [optimized.decode(i) for i in ids_b]
    )
    failures = generation.judge(result, budget)
    record = GenerationVerdict(
        pair.original.name, pair.optimized.name, device.id, budget, failures, result, built=pair.built
    )
    store_record(item, "generation", getattr(item, "title", owner), device.id, record)
    if failures:
        raise CheckFailed(record.render())
    return result


@dataclass
class GenerationVerdict(Verdict):
    """The generation result with its verdict, as the reports keep it."""

    result: Any  # generation.GenerationResult

    def to_dict(self) -> dict[str, Any]:
        return {**self.common(), **self.result.to_dict()}

    def render(self) -> str:
        what = f"{len(self.result.prompts)} prompts, {self.budget.max_new_tokens} new tokens each (greedy)"
        return self.message("generation", what, self.result.render())
