"""The session's language models: references resolved once (a GGUF converted once), models compiled once
per folder, device and precision, recipes built from the original's folder with calibration text."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ConfigError, ModelError
from .llm_models import LLMFile, resolve_llm
from .types import OPENVINO, DeviceSpec, ModelFile

if TYPE_CHECKING:
    from .runtimes.openvino_llm import LanguageModel

CALIBRATION_TOKENS = 128  # tokens per calibration sample of a data-aware LLM recipe


def llm_cache(session: Any) -> Path:
    """Where language models converted from GGUF and built by recipes live: under --edge-cache-dir when it is
    given, else in the per-user cache (~/.cache/pytest-edgeqa/llm), not in each project's .pytest_cache:
    they are hundreds of MB, and every entry is keyed by the content it was made from, so projects share them."""
    from .config import user_cache_dir

    given = session.settings.model_cache
    return Path(given) / "llm" if given else user_cache_dir("llm")


def llm_file(session: Any, ref: Any, base_dir: Path, what: str, engine: str = "auto") -> LLMFile:
    key = ("llm-file", os.fspath(ref), base_dir, engine)
    return session.memo(key, lambda: resolve_llm(ref, base_dir, what, llm_cache(session), engine))


def require_openvino(device: DeviceSpec, label: str) -> None:
    """Language models run on OpenVINO: on another runtime's device the check is skipped, saying so."""
    from .errors import Unsupported

    if device.runtime != OPENVINO:
        raise Unsupported(
            f"{label}: language models run on OpenVINO devices (CPU, GPU, NPU, AUTO), not {device.id}; "
            "give --edge-device=CPU (or another OpenVINO device)"
        )


def language_model(
    session: Any, model: LLMFile, device: DeviceSpec, precision: str | None, label: str, properties: Any = None
) -> LanguageModel:
    """``model`` compiled for ``device`` (an OpenVINO device: LLMs run on OpenVINO) with the edge_model
    marker's ``properties`` (e.g. {"KV_CACHE_PRECISION": "f16"}); a model whose engine is llama.cpp is loaded
    by llama.cpp on the CPU whatever the OpenVINO device (its items still run once per --edge-device)."""
    from .runtimes.openvino_llm import LanguageModel

    require_openvino(device, label)
    extra = dict(properties or {})
    if model.engine == "llama.cpp":
        key = ("llm", str(model.folder), "llama.cpp", precision, repr(sorted(extra.items())), label)
        return session.memo(key, lambda: _llamacpp_model(model, precision, label, extra))
    key = ("llm", str(model.folder), device.name, precision, repr(sorted(extra.items())))
    return session.memo(key, lambda: LanguageModel(model.folder, device.name, precision, label, extra))


def _llamacpp_model(model: LLMFile, precision: str | None, label: str, extra: dict[str, Any]) -> Any:
    from .runtimes.llamacpp_llm import LlamaCppModel

    if precision not in (None, "f32") or extra:
        given = f"precision={precision!r}" if precision not in (None, "f32") else f"properties={extra!r}"
        raise ConfigError(
            f"edge_model marker: {given} applies to OpenVINO models; {model.name} runs through llama.cpp, at the "
            "precision of its GGUF file: leave it out (or give an OpenVINO model)"
        )
    return LlamaCppModel(model.folder, label)


@dataclass(frozen=True)
class LLMPair:
    original: LLMFile
    optimized: LLMFile | None
    built: dict[str, Any] | None = None  # the recipe's build info, when the optimized model was built


def marked_llms(session: Any, marker: Any, base_dir: Path, calibration: Any) -> LLMPair:
    """The edge_model marker's language models: the original resolved, the optimized resolved or built
    by its recipe (``calibration``: the calibration text, for a data-aware recipe)."""
    from . import optimize

    engine = marker.options.get("engine", "auto")
    if marker.optimized is not None and optimize.is_recipe(marker.optimized) and engine == "llama.cpp":
        _no_recipe(marker, "engine='llama.cpp'")
    original = llm_file(session, marker.original, base_dir, f"edge_model marker original={marker.original!r}", engine)
    if marker.optimized is None:
        return LLMPair(original, None)
    if not optimize.is_recipe(marker.optimized):
        what = f"edge_model marker optimized={marker.optimized!r}"
        return LLMPair(original, llm_file(session, marker.optimized, base_dir, what, engine))
    if original.engine == "llama.cpp":
        _no_recipe(marker, "OpenVINO GenAI's GGUF reader cannot load it")
    spec = optimize.parse_spec(marker.optimized, "edge_model marker")
    key = ("llm-recipe", original.sha256, spec.name, repr(sorted(spec.options.items())), _text_key(calibration))
    built = session.memo(key, lambda: _build(session, spec, original, calibration))
    folder = built.path.parent
    digest = built.info.get("key", "")
    from .runtimes.openvino_llm import tokenizer_digest

    title = f"{spec.name} of {original.name}"
    return LLMPair(original, LLMFile(folder, folder, digest, tokenizer_digest(folder), title=title), built.info)


def _no_recipe(marker: Any, why: str) -> None:
    raise ConfigError(
        f"edge_model marker optimized={marker.optimized!r}: recipes (NNCF) build from an OpenVINO model, and the original "
        f"{marker.original!r} runs through llama.cpp ({why}): give the optimized model as a .gguf file instead "
        "(e.g. made with llama.cpp's llama-quantize)"
    )


def _text_key(text: Any) -> str | None:
    return hashlib.sha256(text.encode()).hexdigest() if isinstance(text, str) else None


def _build(session: Any, spec: Any, original: LLMFile, text: str | None) -> Any:
    from . import optimize
    from .runtimes.openvino_llm import REQUIRED

    files = tuple(original.folder / n for x in REQUIRED for n in (x, x[:-4] + ".bin"))
    model = ModelFile(
        original.model_xml, "ir", files, hashlib.sha256((original.sha256 + original.tokenizer).encode()).hexdigest()
    )
    samples = None
    if text is not None:
        count = int(spec.options.get("samples") or 32)
        samples = calibration_samples(
            language_model(session, original, DeviceSpec(OPENVINO, "CPU"), "f32", "original"), text, count
        )
    return optimize.build(
        spec, model, cache_dir=llm_cache(session), samples=samples, rebuild_session=session.rebuild_session
    )


def calibration_samples(model: LanguageModel, text: str, count: int) -> Any:
    """``count`` windows of CALIBRATION_TOKENS tokens of ``text`` as the stateful model's inputs."""
    import numpy as np

    from .optimize import Samples

    ids = model.encode(text)
    n = min(count, len(ids) // CALIBRATION_TOKENS)
    if n < 1:
        raise ConfigError(
            f"calibration text has {len(ids)} tokens; a data-aware recipe needs at least {CALIBRATION_TOKENS} "
            f"(one sample of {CALIBRATION_TOKENS} tokens): give a longer text"
        )
    windows = ids[: n * CALIBRATION_TOKENS].reshape(n, CALIBRATION_TOKENS)
    inputs = {
        "input_ids": windows,
        "attention_mask": np.ones_like(windows),
        "position_ids": np.tile(np.arange(CALIBRATION_TOKENS, dtype=np.int64), (n, 1)),
        "beam_idx": np.zeros(n, dtype=np.int32),
    }
    return Samples(inputs, f"text:{_text_key(text)}:{n}x{CALIBRATION_TOKENS}")


def calibration_text(request: Any, value: Any, base_dir: Path, where: str) -> str | None:
    """What a recipe's ``calibration`` names for a language model: a fixture (its value, a str), a .txt file,
    or the text itself."""
    if value is None:
        return None
    if isinstance(value, str) and value.isidentifier() and request is not None:
        import pytest

        try:
            value = request.getfixturevalue(value)
        except pytest.FixtureLookupError:
            raise ConfigError(
                f"{where}: calibration={value!r} names no fixture; give a fixture that returns the calibration text, "
                "a .txt file or the text itself"
            ) from None
    if isinstance(value, os.PathLike) or (isinstance(value, str) and value.endswith(".txt") and "\n" not in value):
        path = Path(value) if Path(value).is_absolute() else base_dir / value
        try:
            return path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ModelError(f"{where}: calibration text file {path} cannot be read: {exc.strerror or exc}") from None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(
            f"{where}: calibration={type(value).__name__}; expected the calibration text (a str), a .txt file or a fixture returning text"
        )
    return value
