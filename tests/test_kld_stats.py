"""The KL-divergence engine (pytest_edgeqa/kld.py) against direct computations written here with loops:
per-token figures, llama.cpp's statistics, the truncated-golden bound, fp16 storage, the block bootstrap's
coverage, the budget's wording and every bad marker argument."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pytest_edgeqa import kld, kld_budget
from pytest_edgeqa.errors import ConfigError

# 4 tokens over a vocabulary of 6, written out: rows are probabilities (each sums to 1)
P_BASE = np.array(
    [
        [0.50, 0.20, 0.10, 0.10, 0.06, 0.04],
        [0.05, 0.05, 0.70, 0.10, 0.05, 0.05],
        [0.30, 0.30, 0.15, 0.15, 0.05, 0.05],
        [0.01, 0.02, 0.03, 0.04, 0.10, 0.80],
    ]
)
P_Q = np.array(
    [
        [0.40, 0.25, 0.15, 0.10, 0.05, 0.05],
        [0.10, 0.05, 0.60, 0.10, 0.10, 0.05],
        [0.20, 0.40, 0.10, 0.10, 0.10, 0.10],
        [0.05, 0.05, 0.05, 0.05, 0.40, 0.40],
    ]
)
TARGETS = np.array([1, 2, 0, 4])


def full_kld_loop(p: np.ndarray, q: np.ndarray) -> list[float]:
    out = []
    for i in range(len(p)):
        s = 0.0
        for v in range(p.shape[1]):
            if p[i, v] > 0:
                s += p[i, v] * (math.log(p[i, v]) - math.log(q[i, v]))
        out.append(s)
    return out


def truncated_kld_loop(p: np.ndarray, q: np.ndarray, k: int) -> list[float]:
    out = []
    for i in range(len(p)):
        order = sorted(range(p.shape[1]), key=lambda v: (-p[i, v], v))[:k]
        s, r, rq = 0.0, 1.0, 1.0
        for v in order:
            s += p[i, v] * (math.log(p[i, v]) - math.log(q[i, v]))
            r -= p[i, v]
            rq -= q[i, v]
        if r > 1e-12:
            s += r * (math.log(r) - math.log(rq))
        out.append(s)
    return out


def exact_base(p: np.ndarray, targets: np.ndarray, k: int) -> kld.BaseLogits:
    """A BaseLogits holding float64 log-probs (no fp16 rounding), to check identities exactly."""
    ids = np.array([sorted(range(p.shape[1]), key=lambda v: (-p[i, v], v))[:k] for i in range(len(p))])
    top = np.log(np.take_along_axis(p, ids, axis=1))
    rest = [sum(p[i, v] for v in range(p.shape[1]) if v not in ids[i]) for i in range(len(p))]
    return kld.BaseLogits(top, ids.astype(np.int32), np.log(p[np.arange(len(p)), targets]), np.array(rest))


def test_log_softmax_matches_direct_formula():
    logits = np.array([[1.0, 2.0, 3.0, -1.0], [1000.0, 1001.0, 999.0, 0.0]])
    got = kld.log_softmax(logits)
    for i, row in enumerate(logits):
        m = max(row)
        denom = sum(math.exp(x - m) for x in row)
        for v, x in enumerate(row):
            assert got[i, v] == pytest.approx(x - m - math.log(denom), abs=1e-5, rel=1e-7)
    assert got.dtype == np.float32


def test_compact_keeps_top_k_descending_with_targets():
    lp = np.log(P_BASE).astype(np.float32)
    base = kld.compact(lp, TARGETS, k=3)
    assert base.top_logprobs.dtype == np.float16 and base.top_ids.dtype == np.int32
    assert base.target_logprob.dtype == np.float32
    assert base.top_ids.tolist() == [[0, 1, 2], [2, 3, 0], [0, 1, 2], [5, 4, 3]]  # ties: lower id first
    np.testing.assert_allclose(np.exp(base.top_logprobs.astype(float)), [[0.5, 0.2, 0.1], [0.7, 0.1, 0.05], [0.3, 0.3, 0.15], [0.8, 0.1, 0.04]], rtol=2e-3)  # fmt: skip
    np.testing.assert_allclose(base.target_logprob, np.log([0.2, 0.7, 0.3, 0.1]), rtol=1e-6)
    np.testing.assert_allclose(base.residual, [0.2, 0.15, 0.25, 0.06], atol=2e-3)
    assert kld.compact(lp, TARGETS, k=100).top_ids.shape == (4, 6)  # k capped at the vocabulary
    fallback = kld.BaseLogits(base.top_logprobs, base.top_ids, base.target_logprob)  # no stored residual
    np.testing.assert_allclose(fallback.residual, 1 - np.exp(base.top_logprobs.astype(float)).sum(axis=1))


def test_compact_ties_are_reproducible():
    rng = np.random.default_rng(0)
    lp = rng.integers(-6, 0, size=(50, 40)).astype(np.float32)  # many ties across the k-th place
    lp[3] = -np.inf
    lp[3, 7] = 0.0
    base = kld.compact(lp, np.zeros(50, dtype=np.int64), k=9)
    for i in range(50):
        expect = sorted(range(40), key=lambda v: (-lp[i, v], v))[:9]
        assert base.top_ids[i].tolist() == expect
        assert base.residual[i] == pytest.approx(sum(math.exp(lp[i, v]) for v in range(40) if v not in expect))


def test_token_figures_against_loops():
    base = exact_base(P_BASE, TARGETS, k=6)
    fig = kld.token_figures(base, np.log(P_Q), TARGETS)
    np.testing.assert_allclose(fig.kld, full_kld_loop(P_BASE, P_Q), rtol=1e-12, atol=1e-15)
    for i, t in enumerate(TARGETS):
        assert fig.nll_base[i] == pytest.approx(-math.log(P_BASE[i, t]))
        assert fig.nll_q[i] == pytest.approx(-math.log(P_Q[i, t]))
        assert fig.dp[i] == pytest.approx(P_Q[i, t] - P_BASE[i, t])
    # argmax q: 0, 2, 1, 4 (the first of a tie); base top: 0, 2, 0, 5
    assert fig.same_top.tolist() == [True, True, False, False]


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
def test_truncated_golden_is_a_lower_bound_with_the_stated_gap(k):
    base = exact_base(P_BASE, TARGETS, k)
    got = kld.token_figures(base, np.log(P_Q), TARGETS).kld
    full = np.array(full_kld_loop(P_BASE, P_Q))
    np.testing.assert_allclose(got, truncated_kld_loop(P_BASE, P_Q, k), rtol=1e-10, atol=1e-14)
    assert np.all(got <= full + 1e-12)
    for i in range(len(P_BASE)):  # gap = r * KL(p_tail / r || q_tail / r_q)
        tail = [v for v in range(6) if v not in base.top_ids[i]]
        r, rq = P_BASE[i, tail].sum(), P_Q[i, tail].sum()
        gap = r * sum(P_BASE[i, v] / r * math.log((P_BASE[i, v] / r) / (P_Q[i, v] / rq)) for v in tail)
        assert full[i] - got[i] == pytest.approx(gap, rel=1e-9, abs=1e-14)
    if k <= 3:
        assert np.any(full - got > 1e-4)  # the bound is not trivially tight here


def test_truncated_equals_full_when_k_is_the_vocabulary_and_q_equal_gives_zero():
    base = exact_base(P_BASE, TARGETS, k=6)
    assert kld.token_figures(base, np.log(P_Q), TARGETS).kld == pytest.approx(full_kld_loop(P_BASE, P_Q))
    same = kld.token_figures(exact_base(P_BASE, TARGETS, k=2), np.log(P_BASE), TARGETS)
    np.testing.assert_allclose(same.kld, 0.0, atol=1e-12)
    assert same.same_top.all() and np.all(same.dp == 0)


def test_zero_quantized_probability_is_floored_not_infinite():
    q = P_Q.copy()
    q[0] = [0.6, 0.0, 0.2, 0.1, 0.05, 0.05]
    with np.errstate(divide="ignore"):
        fig = kld.token_figures(exact_base(P_BASE, TARGETS, k=3), np.log(q), TARGETS)
    assert np.isfinite(fig.kld).all()
    assert fig.kld[0] == pytest.approx(0.2 * -math.log(kld.FLOOR), rel=0.2)  # dominated by the 0.2 on a "zero"


def test_fp16_storage_error_is_small_on_a_realistic_distribution():
    rng = np.random.default_rng(3)
    n, vocab = 64, 2000
    lb = kld.log_softmax(rng.standard_t(3, size=(n, vocab)) * 2.5)
    lq = kld.log_softmax(lb + rng.normal(0, 0.2, size=(n, vocab)))
    targets = rng.integers(0, vocab, n)
    pb = np.exp(lb.astype(np.float64))
    full = (pb * (lb.astype(np.float64) - lq)).sum(axis=1)
    for k in (64, vocab):
        base = kld.compact(lb, targets, k=k)
        fig = kld.token_figures(base, lq, targets)
        exact = kld.BaseLogits(
            np.take_along_axis(lb, base.top_ids, 1), base.top_ids, base.target_logprob, base.residual_mass
        )
        unrounded = kld.token_figures(exact, lq, targets).kld
        assert np.abs(fig.kld - unrounded).max() < 1e-4  # what fp16 storage costs per token
        assert abs(fig.kld.mean() - unrounded.mean()) < 0.01 * unrounded.mean()
        assert np.all(unrounded <= full + 1e-7) and np.all(fig.kld <= full + 1e-4)
        if k == vocab:
            np.testing.assert_allclose(unrounded, full, rtol=1e-4, atol=1e-7)
            # a golden without its stored residual: r from the fp16 values is rounding, no tail to weigh it against
            bare = kld.BaseLogits(base.top_logprobs, base.top_ids, base.target_logprob)
            assert np.abs(kld.token_figures(bare, lq, targets).kld - full).max() < 1e-3


def test_bad_shapes_and_non_finite_refused():
    with pytest.raises(ValueError, match="targets"):
        kld.compact(np.log(P_BASE), np.array([0, 1, 9, 0]))
    with pytest.raises(ValueError, match=r"\(n, vocab\)"):
        kld.compact(np.log(P_BASE), TARGETS[:3])
    bad = np.log(P_Q)
    bad[2, 3] = np.nan
    with pytest.raises(kld.NonFinite, match="row 2"):
        kld.token_figures(exact_base(P_BASE, TARGETS, 3), bad, TARGETS)
    with pytest.raises(ValueError, match="holds 4 tokens"):
        kld.token_figures(exact_base(P_BASE, TARGETS, 3), np.log(P_Q)[:3], TARGETS[:3])


# ---------------------------------------------------------------------------------------- statistics


def random_figures(n: int, seed: int = 0) -> kld.TokenFigures:
    rng = np.random.default_rng(seed)
    nll_b = rng.gamma(2.0, 1.5, n)
    nll_q = nll_b + rng.normal(0.05, 0.3, n)
    return kld.TokenFigures(
        kld=rng.gamma(0.5, 0.05, n), nll_base=nll_b, nll_q=nll_q, dp=np.exp(-nll_q) - np.exp(-nll_b),
        same_top=rng.random(n) < 0.8,
    )  # fmt: skip


def mean_se_loop(x) -> tuple[float, float]:
    n = len(x)
    m = sum(x) / n
    var = sum((v - m) ** 2 for v in x) / n
    return m, math.sqrt(var / (n - 1))


def percentile_loop(x, fraction: float) -> float:
    s = sorted(x)
    pos = fraction * (len(s) - 1)
    i = int(pos)
    return s[i] + (pos - i) * (s[min(i + 1, len(s) - 1)] - s[i])


def test_statistics_as_llama_cpp_defines_them():
    fig = random_figures(257)
    st = kld.summarize(fig, resamples=200)
    n = 257
    m, se = mean_se_loop(fig.kld)
    assert (st.tokens, st.mean_kld, st.mean_kld_se) == (n, pytest.approx(m), pytest.approx(se))
    assert st.kld_max == fig.kld.max() and st.kld_min == fig.kld.min()
    for q in kld.KLD_PERCENTILES:
        assert st.kld_percentiles[f"p{q:g}"] == pytest.approx(percentile_loop(fig.kld, q / 100))
    assert st.kld_percentiles["p50"] == pytest.approx(sorted(fig.kld)[128])  # odd n: the middle one
    mq, sq = mean_se_loop(fig.nll_q)
    mb, sb = mean_se_loop(fig.nll_base)
    cov = sum((a - mq) * (b - mb) for a, b in zip(fig.nll_q, fig.nll_base, strict=True)) / n / (n - 1)
    assert st.ppl_q == pytest.approx(math.exp(mq)) and st.ppl_q_se == pytest.approx(math.exp(mq) * sq)
    assert st.ppl_base == pytest.approx(math.exp(mb)) and st.ppl_base_se == pytest.approx(math.exp(mb) * sb)
    assert st.ln_ppl_correlation == pytest.approx(cov / (sq * sb))
    assert st.ln_ppl_ratio_mean == pytest.approx(mq - mb)
    assert st.ln_ppl_ratio_se == pytest.approx(math.sqrt(sq**2 + sb**2 - 2 * cov))
    assert st.ppl_ratio == pytest.approx(math.exp(mq - mb))
    assert st.ppl_ratio_se == pytest.approx(math.exp(mq - mb) * st.ln_ppl_ratio_se)
    assert st.ppl_diff == pytest.approx(math.exp(mq) - math.exp(mb))


def test_dp_and_same_top_statistics():
    fig = random_figures(300, seed=1)
    st = kld.summarize(fig, resamples=200)
    m, se = mean_se_loop(fig.dp)
    assert st.dp_mean == pytest.approx(m) and st.dp_mean_se == pytest.approx(se)
    msq, msq_se = mean_se_loop([d * d for d in fig.dp])
    assert st.dp_rms == pytest.approx(math.sqrt(msq))
    assert st.dp_rms_se == pytest.approx(0.5 / math.sqrt(msq) * msq_se)
    for q in kld.DP_PERCENTILES:
        assert st.dp_percentiles[f"p{q:g}"] == pytest.approx(percentile_loop(fig.dp, q / 100))
    assert st.dp_max == max(fig.dp) and st.dp_min == min(fig.dp)
    top = sum(fig.same_top) / 300
    assert st.same_top == pytest.approx(top)
    assert st.same_top_se == pytest.approx(math.sqrt(top * (1 - top) / 299))


def test_few_tokens_give_zero_standard_errors_as_llama_cpp():
    fig = kld.token_figures(exact_base(P_BASE, TARGETS, 3), np.log(P_Q), TARGETS)
    st = kld.summarize(fig, resamples=100)
    assert st.mean_kld == pytest.approx(np.mean(truncated_kld_loop(P_BASE, P_Q, 3)))
    assert st.mean_kld_se == 0.0 and st.ppl_q_se == 0.0 and math.isnan(st.ln_ppl_correlation)
    assert st.to_dict()["ln_ppl_correlation"] is None
    assert st.block == 4 and st.mean_kld_interval == (pytest.approx(st.mean_kld), pytest.approx(st.mean_kld))


def test_bootstrap_is_paired_deterministic_and_consistent():
    fig = random_figures(1000, seed=2)
    a = kld.summarize(fig, seed=5)
    assert a == kld.summarize(fig, seed=5)
    assert a.mean_kld_interval != kld.summarize(fig, seed=6).mean_kld_interval
    lo, hi = a.mean_kld_interval
    assert lo < a.mean_kld < hi and hi - lo == pytest.approx(2 * 1.96 * a.mean_kld_se, rel=0.35)
    assert a.ppl_ratio_interval[0] < a.ppl_ratio < a.ppl_ratio_interval[1]
    assert a.same_top_interval[0] < a.same_top < a.same_top_interval[1]
    # paired: nll_q = nll_base + small noise, so the ratio's interval is far narrower than unpaired PPLs would allow
    width = math.log(a.ppl_ratio_interval[1]) - math.log(a.ppl_ratio_interval[0])
    assert width < 0.5 * 2 * 1.96 * math.hypot(a.ppl_q_se / a.ppl_q, a.ppl_base_se / a.ppl_base)
    # one resample by hand: block means weighted by counts drawn with the same generator
    # resamples by hand, the last block short (1050 tokens = 10 blocks of 100 + 50): the same blocks for all columns
    fig = random_figures(1050, seed=3)
    cols = np.column_stack([fig.kld, fig.nll_q - fig.nll_base, fig.same_top])
    boot = kld.block_bootstrap(cols, 100, 3, seed=9)
    draws = np.random.default_rng(9).integers(0, 11, size=(3, 11))
    for j in range(3):
        w = [list(draws[j]).count(b) for b in range(11)]
        total = sum(w[b] * cols[b * 100 : (b + 1) * 100].sum(axis=0) for b in range(11))
        tokens = sum(w[b] * len(cols[b * 100 : (b + 1) * 100]) for b in range(11))
        np.testing.assert_allclose(boot[j], total / tokens, rtol=1e-12)


def ar1_kld(replicates: int, n: int, phi: float, sigma: float, seed: int = 11) -> np.ndarray:
    """(replicates, n) per-token KLDs 0.05 * exp(z), z a stationary AR(1) with N(0, sigma^2) margins, so the
    true mean is 0.05 * exp(sigma^2 / 2)."""
    rng = np.random.default_rng(seed)
    z = np.empty((replicates, n))
    z[:, 0] = rng.normal(0, sigma, replicates)
    eps = rng.normal(0, sigma * math.sqrt(1 - phi * phi), (replicates, n))
    for t in range(1, n):
        z[:, t] = phi * z[:, t - 1] + eps[:, t]
    return 0.05 * np.exp(z)


def coverage(data: np.ndarray, block: int, resamples: int) -> float:
    true_mean = 0.05 * math.exp(0.5**2 / 2)
    hits = 0
    for i, x in enumerate(data):
        means = kld.block_bootstrap(x[:, None], block, resamples, seed=i)[:, 0]
        lo, hi = np.quantile(means, [0.025, 0.975])
        hits += lo <= true_mean <= hi
    return hits / len(data)


def test_block_bootstrap_interval_covers_the_true_mean():
    data = ar1_kld(200, 2048, phi=0.5, sigma=0.5)
    assert 0.90 <= coverage(data, block=32, resamples=1000) <= 0.99
    # the control: resampling single tokens ignores the correlation and covers far less often
    assert coverage(data[:60], block=1, resamples=400) < 0.85


# -------------------------------------------------------------------------------------------- budget


def stats_with(**changes) -> kld.KLDStats:
    st = kld.summarize(random_figures(500, seed=4), resamples=500)
    from dataclasses import replace

    return replace(st, **changes)


def test_judge_point_gate_wording():
    pct = {"p99.9": 1.0, "p99": 0.9, "p95": 0.5, "p90": 0.3, "p50": 0.1, "p10": 0.01, "p5": 0.0, "p1": 0.0, "p0.1": 0.0}
    st = stats_with(
        mean_kld=0.2245, mean_kld_interval=(0.21, 0.2410), kld_percentiles=pct, kld_max=2.5,
        ppl_q=24.4, ppl_base=19.6, ppl_ratio=24.4 / 19.6, ppl_ratio_interval=(1.2, 1.3),
        same_top=0.718, same_top_interval=(0.70, 0.734),
    )  # fmt: skip
    budget = kld_budget.budget_from_marker((), {"mean": 0.02, "p99": 0.2, "max": 3, "same_top": 0.95, "ppl_ratio": 1.03})
    assert kld_budget.judge(st, budget) == [
        "mean KLD 0.2245 > budget 0.02 (by 0.2045)",
        "99th percentile KLD 0.9000 > budget 0.2 (by 0.7000)",
        "PPL(Q)/PPL(base) 24.4/19.6 = 1.2449 > budget 1.03 (by 0.2149)",
        "same-top rate 71.80% < budget 95% (by 23.20 points)",
    ]
    assert kld_budget.judge(st, kld_budget.KLDBudget(mean=0.3, p90=0.3, p95=0.5, max=2.5, same_top=0.7, ppl_ratio=1.25)) == []


def test_judge_confident_gate_uses_the_worse_end():
    st = stats_with(
        mean_kld=0.018, mean_kld_interval=(0.015, 0.0241), ppl_ratio=1.02, ppl_q=20.4, ppl_base=20.0,
        ppl_ratio_interval=(1.01, 1.035), same_top=0.96, same_top_interval=(0.94, 0.975),
    )  # fmt: skip
    point = kld_budget.budget_from_marker((), {"mean": 0.02, "same_top": 0.95, "ppl_ratio": 1.03})
    assert kld_budget.judge(st, point) == []
    confident = kld_budget.budget_from_marker((), {"mean": 0.02, "same_top": 0.95, "ppl_ratio": 1.03, "gate": "confident"})
    assert kld_budget.judge(st, confident) == [
        "mean KLD 0.0180 (95% upper bound 0.0241) > budget 0.02 (by 0.0041)",
        "PPL(Q)/PPL(base) 20.4/20 = 1.0200 (95% upper bound 1.0350) > budget 1.03 (by 0.0050)",
        "same-top rate 96.00% (95% lower bound 94.00%) < budget 95% (by 1.00 points)",
    ]


def test_render_and_to_dict():
    st = kld.summarize(random_figures(400, seed=7), resamples=300)
    text = st.render()
    assert "400 tokens" in text and f"{st.mean_kld:.6f}" in text and f"{st.ppl_ratio:.4f}" in text
    assert f"{100 * st.same_top:.2f}%" in text and "Δp" in text and "Cor(ln PPL(Q), ln PPL(base))" in text
    import json

    back = json.loads(json.dumps(st.to_dict()))
    assert back["mean_kld"] == st.mean_kld and back["kld_percentiles"]["p99.9"] == st.kld_percentiles["p99.9"]
    assert back["ppl_ratio_interval"] == list(st.ppl_ratio_interval)


def test_budget_defaults_and_values():
    b = kld_budget.budget_from_marker((), {"mean": 0.02, "p99": 0.2, "same_top": 1, "ppl_ratio": 1, "top_k": 16})
    assert (b.mean, b.p99, b.same_top, b.ppl_ratio, b.top_k) == (0.02, 0.2, 1.0, 1.0, 16)
    assert (b.gate, b.confidence, b.block, b.resamples) == ("point", 0.95, 32, 2000)


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((0.02,), {}, "kld marker: takes keyword arguments only"),
        ((), {"mean_kld": 0.02}, r"unknown argument 'mean_kld' \(expected: mean, p90, p95, p99, max, same_top"),
        ((), {}, "kld marker: no budget: give one or more of mean, p90"),
        ((), {"gate": "confident"}, "no budget"),
        ((), {"mean": "0.02"}, r"kld marker: mean='0.02'; expected a number at least 0"),
        ((), {"mean": float("nan")}, r"mean=nan; expected a finite number"),
        ((), {"p99": -0.1}, r"p99=-0.1; expected a number at least 0 \(a KL divergence is never negative\)"),
        ((), {"max": True}, r"max=True; expected a number"),
        ((), {"same_top": 1.5}, r"kld marker: same_top=1.5; expected a rate in \[0, 1\]"),
        ((), {"same_top": -0.1}, r"same_top=-0.1; expected a rate in \[0, 1\]"),
        ((), {"same_top": "95%"}, r"same_top='95%'; expected a rate"),
        ((), {"ppl_ratio": 0.97}, r"ppl_ratio=0.97; expected a number at least 1 \(the most PPL\(Q\)/PPL\(base\)"),
        ((), {"ppl_ratio": float("inf")}, r"ppl_ratio=inf; expected a finite number"),
        ((), {"mean": 0.1, "gate": "strict"}, r"gate='strict'; expected 'point' or 'confident'"),
        ((), {"mean": 0.1, "confidence": 1.0}, r"confidence=1.0; expected a number in \[0.5, 1\)"),
        ((), {"mean": 0.1, "confidence": 95}, r"confidence=95; expected"),
        ((), {"mean": 0.1, "block": 0}, r"block=0; expected a positive integer"),
        ((), {"mean": 0.1, "block": 2.5}, r"block=2.5; expected a positive integer"),
        ((), {"mean": 0.1, "top_k": -3}, r"top_k=-3; expected a positive integer"),
        ((), {"mean": 0.1, "top_k": "64"}, r"top_k='64'; expected a positive integer"),
        ((), {"mean": 0.1, "resamples": 10}, r"resamples=10; expected an integer at least 100"),
        ((), {"p99": 0.2, "gate": "confident"}, r"gate='confident' judges mean, same_top and ppl_ratio"),
    ],
)
def test_bad_marker_arguments(args, kwargs, message):
    with pytest.raises(ConfigError, match=message):
        kld_budget.budget_from_marker(args, kwargs)


def test_where_names_the_source():
    with pytest.raises(ConfigError, match=r"^suite checks\.kld: same_top=2"):
        kld_budget.budget_from_marker((), {"same_top": 2}, where="suite checks.kld")
