"""Digits CNN: the FP16-weight OpenVINO IR must behave like the FP32 ONNX original."""

import numpy as np
import pytest

pytestmark = pytest.mark.edge_model(original="models/digits_cnn.onnx", optimized="models/digits_cnn_fp16.xml")


def test_original_is_accurate(original_model, digits):
    logits = original_model.infer({"image": digits["image"]})["logits"]
    accuracy = float((logits.argmax(axis=1) == digits["label"]).mean())
    assert accuracy >= 0.97, f"original accuracy {accuracy:.4f} on {len(digits['label'])} held-out digits"


def test_original_runs_at_reference_precision(original_model):
    info = original_model.info
    assert info.precision == info.declared_precision == "f32", info.summary()


def test_fp16_weights_keep_predictions(original_model, optimized_model, digits):
    ref = original_model.infer({"image": digits["image"]})["logits"]
    out = optimized_model.infer({"image": digits["image"]})["logits"]
    agreement = float((ref.argmax(axis=1) == out.argmax(axis=1)).mean())
    worst = float(np.abs(ref - out).max())
    assert agreement >= 0.99, f"top-1 agreement {agreement:.4f} ({optimized_model.info.summary()})"
    assert worst < 0.25, f"max |logit difference| {worst:.4f} ({optimized_model.info.summary()})"


@pytest.mark.parity(atol=0.02, rtol=0.01, cosine=0.9999, top_k=1)
def test_fp16_matches_golden(golden_check, digits):
    # The first 32 held-out digits; the golden was recorded from the FP32 original on CPU at f32.
    golden_check({"image": digits["image"][:32]})
