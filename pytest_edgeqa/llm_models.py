"""Language-model references: an OpenVINO LLM folder (as optimum-intel exports it) or a GGUF file.

A GGUF file goes through OpenVINO GenAI's GGUF reader, which builds the OpenVINO model with the file's
quantized weights and their decompression subgraphs; the original is those weights decompressed (the
subgraphs constant-folded) and stored in f16, so it runs at f32 like any reference. The converted folder is
cached by the GGUF file's sha256, built in a temporary folder and renamed into place under a file lock.

A GGUF file that reader cannot load runs through llama.cpp when llama-cpp-python (the extra
``pytest-edgeqa[gguf]``) is installed; ``engine="llama.cpp"`` (an edge_model option) asks for llama.cpp
outright, ``engine="openvino"`` for OpenVINO only. Such an LLMFile has engine "llama.cpp" and the GGUF file as
its folder."""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError, ModelError
from .files import sha256_of
from .runtimes.openvino_llm import MODEL_XML, REQUIRED, missing_files, tokenizer_digest

EXPECTED = (
    "expected an OpenVINO LLM folder as optimum-intel exports it (openvino_model.xml, openvino_tokenizer.xml and "
    "openvino_detokenizer.xml with their .bin files) or a .gguf file"
)
ENGINES = ("auto", "openvino", "llama.cpp")
GGUF_EXTRA = (
    "to run it through llama.cpp instead, install the optional extra: pip install 'pytest-edgeqa[gguf]' "
    "(llama-cpp-python builds from source: ~36 min on 2 cores)"
)


@dataclass(frozen=True)
class LLMFile:
    """An LLM folder ready to run: where it is, what it was given as, and digests for goldens and caches."""

    folder: Path
    source: Path  # the folder or .gguf file the marker named
    sha256: str  # of the model's IR (or of the GGUF it came from)
    tokenizer: str  # tokenizer_digest of the folder
    engine: str = "openvino"  # or "llama.cpp": then folder is the .gguf file itself
    title: str | None = None  # what messages call it, when not its file's name (a recipe's build)

    @property
    def name(self) -> str:
        return self.title or self.source.name

    @property
    def model_xml(self) -> Path:
        return self.folder / MODEL_XML


def is_llm_ref(ref: object, base_dir: Path) -> bool:
    """Whether ``ref`` names a language model (a folder with openvino_model.xml and a tokenizer, or a .gguf)."""
    if not isinstance(ref, str | os.PathLike):
        return False
    path = Path(ref) if Path(ref).is_absolute() else base_dir / ref
    if path.suffix.lower() == ".gguf":
        return True
    return path.is_dir() and (path / MODEL_XML).is_file() and any((path / n).exists() for n in REQUIRED[1:])


def resolve_llm(
    ref: str | os.PathLike[str], base_dir: Path, what: str, cache_dir: Path, engine: str = "auto"
) -> LLMFile:
    path = Path(ref)
    if not path.is_absolute():
        path = base_dir / path
    hint = "" if Path(ref).is_absolute() else f" (relative paths resolve against {base_dir})"
    if not path.exists():
        raise ModelError(f"{what}: language model not found: {path}{hint}; {EXPECTED}")
    if path.is_file() and path.suffix.lower() == ".gguf":
        return _from_gguf(path, what, cache_dir, engine)
    if engine == "llama.cpp":
        raise ConfigError(
            f"{what}: engine='llama.cpp' runs .gguf files; {path} is not one: give a .gguf file or leave engine out"
        )
    if not path.is_dir():
        raise ModelError(f"{what}: {path} is not a language model; {EXPECTED}")
    lacking = missing_files(path)
    if lacking:
        raise ModelError(f"{what}: LLM folder {path} lacks {', '.join(lacking)}; {EXPECTED}")
    digest = _digest(path / MODEL_XML, path / "openvino_model.bin")
    return LLMFile(path, path, digest, tokenizer_digest(path))


def _digest(*files: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    for f in files:
        h.update(sha256_of(f).encode())
    return h.hexdigest()


def _from_gguf(path: Path, what: str, cache_dir: Path, engine: str = "auto") -> LLMFile:
    from filelock import FileLock

    from .runtimes import llamacpp_llm

    head = path.open("rb").read(4)
    if head != b"GGUF":
        raise ModelError(f"{what}: {path} is not a GGUF file (it starts with {head!r}, not b'GGUF')")
    digest = sha256_of(path)
    if engine == "llama.cpp":
        llamacpp_llm.llama_cpp_module()  # Unsupported (a skip) without the extra
        return _llamacpp_file(path, digest, what)
    final = cache_dir / f"gguf-{digest[:20]}"
    cache_dir.mkdir(parents=True, exist_ok=True)
    try:
        with FileLock(str(cache_dir / f".{final.name}.lock")):
            if missing_files(final):
                _convert(path, final, what)
    except _ReaderRefused as refused:
        if engine == "auto" and llamacpp_llm.available():
            try:
                return _llamacpp_file(path, digest, what)
            except ModelError as exc:
                raise ModelError(f"{refused}; llama.cpp cannot run it either: {exc}") from None
        raise ModelError(f"{refused}; {GGUF_EXTRA}") from None
    return LLMFile(final, path, digest, tokenizer_digest(final))


class _ReaderRefused(Exception):
    """OpenVINO GenAI's GGUF reader cannot load the file (the message says so)."""


def _llamacpp_file(path: Path, digest: str, what: str) -> LLMFile:
    from .runtimes.llamacpp_llm import gguf_tokenizer_digest

    try:
        return LLMFile(path, path, digest, gguf_tokenizer_digest(path), engine="llama.cpp")
    except ModelError as exc:
        raise ModelError(f"{what}: {exc}") from None


def _convert(gguf: Path, final: Path, what: str) -> None:
    """OpenVINO GenAI reads ``gguf`` and saves its IR beside it (in a temporary folder here); the weights'
    decompression subgraphs are then folded into f16 constants."""
    import openvino as ov
    import openvino_genai
    from openvino import passes

    tmp = Path(tempfile.mkdtemp(prefix=".gguf-", dir=final.parent))
    try:
        link = tmp / gguf.name
        os.symlink(gguf.resolve(), link)
        try:
            openvino_genai.LLMPipeline(str(link), "CPU", enable_save_ov_model=True)
        except Exception as exc:
            text = " ".join(str(exc).split())[:300]
            raise _ReaderRefused(f"{what}: OpenVINO GenAI's GGUF reader cannot load {gguf}: {text}") from None
        link.unlink()
        model = ov.Core().read_model(str(tmp / MODEL_XML))
        manager = passes.Manager()
        manager.register_pass(passes.ConstantFolding())
        manager.run_passes(model)
        ov.save_model(model, str(tmp / "folded.xml"), compress_to_fp16=True)  # the weights are f16 in the file already
        del model
        for suffix in (".xml", ".bin"):
            os.replace(tmp / f"folded{suffix}", tmp / f"openvino_model{suffix}")
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
