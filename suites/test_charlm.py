"""Character-level transformer LM: weight compression must keep perplexity on held-out text."""

import pytest


@pytest.mark.edge_model(original="models/charlm.onnx", optimized={"recipe": "nncf-weights-int4", "group_size": 64})
@pytest.mark.accuracy(metric="perplexity", max_drop=0.05, drop="relative")
def test_int4_weights_keep_perplexity(accuracy_check, charlm_text):
    # Perplexity is lower-is-better: the "drop" is the relative rise in perplexity.
    result = accuracy_check(charlm_text, label="input_ids")
    assert result.original.value < 5.0


@pytest.mark.edge_model(original="models/charlm.onnx", optimized="nncf-weights-int8")
@pytest.mark.accuracy(metric="perplexity", max_drop=0.01, drop="relative")
def test_int8_weights_keep_perplexity(accuracy_check, charlm_text):
    accuracy_check(charlm_text, label="input_ids")


@pytest.mark.edge_model(original="models/charlm.onnx", optimized={"recipe": "nncf-weights-int4", "group_size": 64})
@pytest.mark.parity(top_k=1, top_k_agreement=0.9, cosine=0.99)
def test_int4_next_character_agrees_with_golden(golden_check, charlm_text):
    golden_check(charlm_text.select(range(16)))
