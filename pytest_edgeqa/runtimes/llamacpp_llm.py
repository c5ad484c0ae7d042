"""A GGUF language model run by llama.cpp (llama-cpp-python, the optional extra ``pytest-edgeqa[gguf]``): the
same interface as ``openvino_llm.LanguageModel`` (encode, decode, logprobs per window, greedy generation,
tokenizer_digest, vocab_size), for GGUF files OpenVINO GenAI's GGUF reader cannot load.

Log-probs are the log-softmax of the logits llama.cpp computes for every position of a window
(``logits_all=True``), the context cleared before each window; generation is greedy (temperature 0, the
greedy sampler, no repeat penalty) from the prompt's tokens, without BOS or a chat template, and stops at an
end-of-generation token. llama.cpp runs on the CPU here, at its own precision (quantized weights with their
dot products in the file's types), as ``llama-perplexity`` does. ``llama_cpp`` is imported only when a model
is used: without it the check is skipped with REASON.

The tokenizer digest is read from the file itself: a small reader of the GGUF header hashes the raw bytes of
every ``tokenizer.*`` key (the chat template left out: no check uses it), so it needs neither llama_cpp nor the
``gguf`` package, and two GGUF files with the same vocabulary, merges and special tokens get the same digest."""

from __future__ import annotations

import hashlib
import mmap
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelError, Unsupported

REASON = (
    "llama-cpp-python is not installed: pip install 'pytest-edgeqa[gguf]' "
    "(it builds llama.cpp from source, ~36 min on 2 cores)"
)
DEVICE = "llama.cpp:cpu"
MIN_CONTEXT = 512  # tokens: llama.cpp's context is sized to the longest window asked, at least this, a power of two

# GGUF metadata value types: fixed sizes; 8 is a string (u64 length + bytes), 9 an array (u32 type, u64 count).
_SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
_STRING, _ARRAY = 8, 9


def llama_cpp_module() -> Any:
    """The llama_cpp module, or ``Unsupported`` (a skip) saying how to install it."""
    try:
        import llama_cpp
    except ImportError:
        raise Unsupported(REASON) from None
    return llama_cpp


def available() -> bool:
    """Whether llama-cpp-python can be imported here."""
    try:
        llama_cpp_module()
    except Unsupported:
        return False
    return True


def scores_to_logprobs(scores: np.ndarray) -> np.ndarray:
    """Log-softmax over the last axis of llama.cpp's logits, in float32 (max subtracted first)."""
    z = np.asarray(scores, dtype=np.float32)
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def context_size(tokens: int) -> int:
    """The context to create for ``tokens`` tokens: a power of two, at least MIN_CONTEXT."""
    n = MIN_CONTEXT
    while n < tokens:
        n *= 2
    return n


def gguf_metadata_spans(path: Path) -> dict[str, bytes]:
    """Each metadata key of a GGUF file (version 2 or 3) with the raw bytes of its entry (key, type, value).
    A file that ends inside its header or is not GGUF raises ModelError."""
    with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        try:
            if buf[:4] != b"GGUF":
                raise ModelError(f"{path} is not a GGUF file (it starts with {bytes(buf[:4])!r}, not b'GGUF')")
            version, _tensors, count = struct.unpack_from("<IQQ", buf, 4)
            if version not in (2, 3):
                raise ModelError(f"{path}: GGUF version {version}; expected 2 or 3")
            out, at = {}, 24
            for _ in range(count):
                start = at
                key, at = _string(buf, at)
                (kind,) = struct.unpack_from("<I", buf, at)
                at = _skip_value(buf, at + 4, kind)
                out[key.decode("utf-8", "replace")] = bytes(buf[start:at])
            return out
        except (struct.error, IndexError, ValueError) as exc:
            raise ModelError(
                f"{path}: the GGUF header cannot be read ({exc}); the file is truncated or damaged"
            ) from None


def _string(buf: Any, at: int) -> tuple[bytes, int]:
    (n,) = struct.unpack_from("<Q", buf, at)
    end = at + 8 + n
    if end > len(buf):
        raise ValueError(f"a string of {n} bytes at offset {at} runs past the end of the file")
    return bytes(buf[at + 8 : end]), end


def _skip_value(buf: Any, at: int, kind: int) -> int:
    if kind in _SIZES:
        return at + _SIZES[kind]
    if kind == _STRING:
        return _string(buf, at)[1]
    if kind == _ARRAY:
        item, n = struct.unpack_from("<IQ", buf, at)
        at += 12
        if item in _SIZES:
            return at + n * _SIZES[item]
        for _ in range(n):
            at = _skip_value(buf, at, item)
        return at
    raise ValueError(f"unknown GGUF value type {kind} at offset {at}")


def gguf_tokenizer_digest(path: Path) -> str:
    """sha256 over the raw entries of the GGUF's ``tokenizer.*`` keys, by key (``tokenizer.chat_template*``
    left out); ModelError when the file has no tokenizer (``tokenizer.ggml.model``)."""
    spans = gguf_metadata_spans(path)
    if "tokenizer.ggml.model" not in spans:
        raise ModelError(f"{path} has no tokenizer in its GGUF metadata (no tokenizer.ggml.model key)")
    h = hashlib.sha256()
    for key in sorted(spans):
        if key.startswith("tokenizer.") and not key.startswith("tokenizer.chat_template"):
            h.update(spans[key])
    return h.hexdigest()


@dataclass
class LlamaCppModel:
    """One GGUF file loaded by llama.cpp on the CPU. ``folder`` is the GGUF file (the name the
    OpenVINO model's folder has in manifests and messages)."""

    folder: Path
    label: str = "model"
    threads: int | None = None
    device: str = DEVICE
    runtime: str = "llama.cpp"
    _llm: Any = field(default=None, repr=False)
    _context: int = field(default=0, repr=False)
    _digest: str | None = field(default=None, repr=False)

    @property
    def runtime_version(self) -> str:
        return str(getattr(llama_cpp_module(), "__version__", "unknown"))

    @property
    def tokenizer_digest(self) -> str:
        if self._digest is None:
            self._digest = gguf_tokenizer_digest(self.folder)
        return self._digest

    def _model(self, tokens: int = 0) -> Any:
        """The llama.cpp model with a context of at least ``tokens`` (loaded again, larger, when needed)."""
        llama_cpp = llama_cpp_module()
        if self._llm is not None and self._context >= tokens:
            return self._llm
        n_ctx = context_size(tokens)
        if self._llm is not None:
            self._llm.close()
            self._llm = None
        try:
            self._llm = llama_cpp.Llama(
                model_path=str(self.folder),
                n_ctx=n_ctx,
                logits_all=True,
                verbose=False,
                seed=0,
                n_threads=self.threads or os.cpu_count() or 1,
            )
        except Exception as exc:
            text = " ".join(str(exc).split())[:300]
            raise ModelError(f"{self.label}: llama.cpp cannot load {self.folder}: {text}") from None
        self._context = n_ctx
        return self._llm

    @property
    def vocab_size(self) -> int:
        return int(self._model().n_vocab())

    def encode(self, text: str) -> np.ndarray:
        """Token ids of ``text`` without BOS or special tokens (int64, 1-d)."""
        ids = self._model().tokenize(text.encode("utf-8"), add_bos=False, special=False)
        return np.asarray(ids, dtype=np.int64)

    def decode(self, ids: Any) -> str:
        return bytes(self._model().detokenize([int(i) for i in ids])).decode("utf-8", errors="replace")

    def logprobs(self, window: np.ndarray, first: int) -> np.ndarray:
        """Log-softmax of the logits at positions ``first`` .. len-2 of ``window``, float32 (tokens, vocab);
        the context is cleared first, so every window starts fresh."""
        ids = [int(i) for i in np.asarray(window).reshape(-1)]
        llm = self._model(len(ids))
        llm.reset()
        llm.eval(ids)
        return scores_to_logprobs(np.array(llm.scores[first : len(ids) - 1], dtype=np.float32))

    def generate(self, prompt: str, max_new_tokens: int) -> tuple[int, ...]:
        """Greedy tokens after ``prompt`` (its tokens without BOS, no chat template), at most
        ``max_new_tokens``, ending before an end-of-generation token."""
        ids = [int(i) for i in self.encode(prompt)]
        if max_new_tokens < 1:
            return ()
        if not ids:
            raise ModelError(f"{self.label}: the prompt {prompt!r} has no tokens to generate from")
        llm = self._model(len(ids) + max_new_tokens)
        llm.reset()
        out: list[int] = []
        tokens = llm.generate(ids, top_k=1, top_p=1.0, min_p=0.0, temp=0.0, repeat_penalty=1.0, reset=True)
        for token in tokens:
            if _is_eog(llm, int(token)):
                break
            out.append(int(token))
            if len(out) >= max_new_tokens:
                break
        tokens.close()
        return tuple(out)


def _is_eog(llm: Any, token: int) -> bool:
    """Whether ``token`` ends generation (EOS, EOT, ...), through whichever call this llama-cpp-python has."""
    llama_cpp = llama_cpp_module()
    if hasattr(llama_cpp, "llama_vocab_is_eog") and hasattr(llm._model, "vocab"):
        return bool(llama_cpp.llama_vocab_is_eog(llm._model.vocab, token))
    if hasattr(llama_cpp, "llama_token_is_eog"):
        return bool(llama_cpp.llama_token_is_eog(llm._model.model, token))
    return token == llm.token_eos()
