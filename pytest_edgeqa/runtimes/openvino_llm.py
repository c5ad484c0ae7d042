"""A language model in OpenVINO: the folder optimum-intel exports (a stateful KV-cache model
``openvino_model.xml`` with ``openvino_tokenizer.xml`` and ``openvino_detokenizer.xml`` beside it).

Log-probabilities come from running the model itself (OpenVINO GenAI's pipeline returns only the top-1
log-prob): one window of tokens per request, the KV-cache state reset before each. Generation goes through
``openvino_genai.LLMPipeline``, greedy, with no chat template (it applies one to plain strings by default)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelError

MODEL_XML = "openvino_model.xml"
TOKENIZER_XML = "openvino_tokenizer.xml"
DETOKENIZER_XML = "openvino_detokenizer.xml"
REQUIRED = (MODEL_XML, TOKENIZER_XML, DETOKENIZER_XML)
INPUTS = ("input_ids", "attention_mask", "position_ids", "beam_idx")


CHUNK = 2000  # characters: even at 4 tokens a character, well under a tokenizer's 8192-token limit


def chunks(text: str, size: int = CHUNK) -> list[str]:
    """``text`` cut into pieces of at most ``size`` characters, each ending after a newline where there is one."""
    out, start = [], 0
    while start < len(text):
        end = min(start + size, len(text))
        if end < len(text):
            cut = text.rfind("\n", start, end)
            end = cut + 1 if cut > start else end
        out.append(text[start:end])
        start = end
    return out


def missing_files(folder: Path) -> list[str]:
    """The files of an LLM folder that are not there (each IR's .bin counts)."""
    out = []
    for xml in REQUIRED:
        for name in (xml, xml[:-4] + ".bin"):
            if not (folder / name).is_file():
                out.append(name)
    return out


def companions(folder: Path) -> list[Path]:
    """What a built LLM folder copies from its original beside the model: tokenizer and detokenizer IR and
    the JSON configs (generation_config.json, config.json, ...). Empty when ``folder`` has no tokenizer."""
    if not (folder / TOKENIZER_XML).is_file():
        return []
    names = [n for x in REQUIRED[1:] for n in (x, x[:-4] + ".bin")]
    return [folder / n for n in names if (folder / n).is_file()] + sorted(folder.glob("*.json"))


def tokenizer_digest(folder: Path) -> str:
    """sha256 over the tokenizer and detokenizer IR: two folders with the same digest tokenize alike. The
    XML's layer names are left out: OpenVINO numbers them with a per-process counter, so one GGUF converted
    twice gives other names (Parameter_14153, Parameter_179244) around the same graph and constants."""
    import re

    h = hashlib.sha256()
    for xml in (TOKENIZER_XML, DETOKENIZER_XML):
        text = re.sub(rb' name="[^"]*"', b"", (folder / xml).read_bytes())
        for name, data in ((xml, text), (xml[:-4] + ".bin", (folder / (xml[:-4] + ".bin")).read_bytes())):
            h.update(name.encode())
            h.update(data)
    return h.hexdigest()


def log_softmax(logits: np.ndarray) -> np.ndarray:
    z = logits.astype(np.float32, copy=False)
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


@dataclass
class LanguageModel:
    """One LLM folder compiled for a device. ``precision`` None keeps the device's default (what the
    optimized model ships with); "f32" pins the reference."""

    folder: Path
    device: str
    precision: str | None = None
    label: str = "model"
    extra: dict[str, Any] = field(default_factory=dict)  # compile properties the edge_model marker gives
    _tokenizer: Any = field(default=None, repr=False)
    _request: Any = field(default=None, repr=False)
    _pipeline: Any = field(default=None, repr=False)
    _vocab: int | None = field(default=None, repr=False)
    _digest: str | None = field(default=None, repr=False)

    @property
    def properties(self) -> dict[str, Any]:
        """The compile properties: the marker's ``properties``, and for a reference ("f32") f32 inference and,
        on CPU, an f32 KV cache too (the CPU plugin quantizes it to u8 by default, which alone changes greedy
        tokens of a small model)."""
        out = dict(self.extra)
        if self.precision:
            out["INFERENCE_PRECISION_HINT"] = self.precision
            if self.precision == "f32" and self.device.split(".")[0] == "CPU":
                out["KV_CACHE_PRECISION"] = "f32"
        return out

    @property
    def tokenizer(self) -> Any:
        if self._tokenizer is None:
            import openvino_genai

            try:
                self._tokenizer = openvino_genai.Tokenizer(str(self.folder))
            except Exception as exc:
                raise ModelError(
                    f"{self.label}: OpenVINO GenAI cannot load the tokenizer in {self.folder}: {_first(exc)}"
                ) from None
        return self._tokenizer

    @property
    def tokenizer_digest(self) -> str:
        if self._digest is None:
            self._digest = tokenizer_digest(self.folder)
        return self._digest

    def encode(self, text: str) -> np.ndarray:
        """Token ids of ``text``, without special tokens (int64, 1-d). A tokenizer IR truncates at its
        max_length (8192 for GGUF-made ones) whatever it is asked, so a long text is encoded in pieces cut
        after a newline, at most CHUNK characters each."""
        pieces = []
        for chunk in chunks(text):
            ids = np.asarray(self.tokenizer.encode(chunk, add_special_tokens=False).input_ids.data[0], dtype=np.int64)
            pieces.append(ids.copy())
        return np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int64)

    def decode(self, ids: Any) -> str:
        return str(self.tokenizer.decode([int(i) for i in ids]))

    @property
    def vocab_size(self) -> int:
        if self._vocab is None:
            self._vocab = int(self._compiled().output(0).get_partial_shape()[-1].get_length())
        return self._vocab

    def _compiled(self) -> Any:
        if self._request is None:
            import openvino as ov

            core = ov.Core()
            try:
                model = core.read_model(str(self.folder / MODEL_XML))
                names = {n for i in model.inputs for n in i.get_names()}
                lacking = [n for n in INPUTS if n not in names]
                if lacking:
                    raise ModelError(
                        f"{self.label}: {self.folder / MODEL_XML} has no input {', '.join(map(repr, lacking))}; expected "
                        f"a stateful causal LM as optimum-intel exports it (inputs {', '.join(INPUTS)}; output logits)"
                    )
                compiled = core.compile_model(model, self.device, self.properties)
            except ModelError:
                raise
            except Exception as exc:
                raise ModelError(
                    f"{self.label}: OpenVINO cannot compile {self.folder / MODEL_XML} for {self.device}: {_first(exc)}"
                ) from None
            self._request = compiled.create_infer_request()
        return self._request.get_compiled_model()

    def logprobs(self, window: np.ndarray, first: int) -> np.ndarray:
        """Log-softmax of the logits at positions ``first`` .. len-2 of ``window`` (each predicting the next
        token), float32 (tokens, vocab); the KV cache is reset first, so every window starts fresh."""
        self._compiled()
        request = self._request
        request.reset_state()
        ids = np.asarray(window, dtype=np.int64)[None]
        request.infer(
            {
                "input_ids": ids,
                "attention_mask": np.ones_like(ids),
                "position_ids": np.arange(ids.shape[1], dtype=np.int64)[None],
                "beam_idx": np.zeros(1, dtype=np.int32),
            }
        )
        logits = request.get_tensor("logits").data[0, first:-1]
        return log_softmax(np.array(logits, dtype=np.float32))

    def generate(self, prompt: str, max_new_tokens: int) -> tuple[int, ...]:
        """Greedy tokens after ``prompt`` (tokenized without special tokens, no chat template)."""
        import openvino as ov
        import openvino_genai

        if self._pipeline is None:
            try:
                self._pipeline = openvino_genai.LLMPipeline(str(self.folder), self.device, **self.properties)
            except Exception as exc:
                raise ModelError(
                    f"{self.label}: OpenVINO GenAI cannot load {self.folder} on {self.device}: {_first(exc)}"
                ) from None
        config = openvino_genai.GenerationConfig()
        config.max_new_tokens = max_new_tokens
        config.do_sample = False
        config.apply_chat_template = False
        ids = self.encode(prompt)[None]
        result = self._pipeline.generate(ov.Tensor(ids), config)
        return tuple(int(t) for t in result.tokens[0])


def _first(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split())
    return text[:limit] + (" ..." if len(text) > limit else "")
