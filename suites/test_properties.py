"""Property-based parity: the INT8 digits model agrees with the FP32 original on generated inputs and
near every real digit. parity_check is session-scoped, so @given tests use it without health-check noise."""

import pytest
from hypothesis import given, settings

from pytest_edgeqa import data
from pytest_edgeqa.strategies import dataset_samples, model_inputs

pytestmark = pytest.mark.edge_model(original="models/digits_cnn.onnx", optimized="models/digits_cnn_int8.xml")

DIGITS = data.load("data/digits", split="test", base_dir=__import__("pathlib").Path(__file__).parent)


@pytest.mark.parity(cosine=0.98)
@settings(max_examples=60, deadline=None)
@given(inputs=model_inputs("models/digits_cnn.onnx", batch=(1, 8), ranges={"image": (0, 16)}))
def test_int8_agrees_on_generated_images(parity_check, inputs):
    # Pixel noise over the data's whole range: far from any digit, so only the outputs' direction is held.
    parity_check(inputs)


@pytest.mark.parity(cosine=0.995, top_k=1)
@settings(max_examples=60, deadline=None)
@given(inputs=dataset_samples(DIGITS, columns={"image": "image"}, perturb=0.05))
def test_int8_keeps_the_class_near_real_digits(parity_check, inputs):
    # Real held-out digits, each pixel moved by up to 5% of the range: same class as the original.
    parity_check(inputs)
