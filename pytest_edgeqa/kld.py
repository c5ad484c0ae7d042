"""KL divergence of a quantized LLM from its base, with the figures of llama.cpp's ``llama-perplexity
--kl-divergence`` (ggml-org/llama.cpp, tools/perplexity/perplexity.cpp as of commit 050fc7f: the per-token
``log_softmax(..., kl_divergence_result &)`` and the statistics ``kl_divergence`` prints), a compact top-k
base ("golden") and a paired block bootstrap. The ``kld`` marker's budget and its judgement: kld_budget.py.

Two differences from llama.cpp, both in the base distribution it stores: llama.cpp keeps every log-prob as
uint16 over [max - 16, max] and drops base terms below log p = -16 from the KLD sum; here the base keeps its
``k`` most likely tokens in fp16 and the rest as one bucket (see ``token_figures`` for the bound).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .accuracy import NonFinite, rows_text
from .kld_budget import TOP_K

KLD_PERCENTILES = (99.9, 99.0, 95.0, 90.0, 50.0, 10.0, 5.0, 1.0, 0.1)  # as llama.cpp prints them
DP_PERCENTILES = (99.9, 99.0, 95.0, 90.0, 75.0, 50.0, 25.0, 10.0, 5.0, 1.0, 0.1)
FLOOR = 1e-30  # the least probability a quantized model is taken to give: log(FLOOR) = -69.1
_CELLS = 1 << 22  # rows x vocab handled at once (a 4k x 49k array is not copied whole)


@dataclass(frozen=True)
class BaseLogits:
    """The compact reference distribution ("golden") for n scored tokens."""

    top_logprobs: np.ndarray  # (n, k) float16: log p_base of the k most likely tokens, descending
    top_ids: np.ndarray  # (n, k) int32
    target_logprob: np.ndarray  # (n,) float32: log p_base of the token that actually came next
    residual_mass: np.ndarray | None = None  # (n,) float32: the mass outside the top k, summed before fp16

    @property
    def residual(self) -> np.ndarray:
        """(n,) float64: the base's mass outside its top k: ``residual_mass`` (what ``compact`` stores: exact,
        where 1 - sum(exp(fp16 log-probs)) carries the fp16 rounding, about 1e-4), else that, clipped at 0."""
        if self.residual_mass is not None:
            return np.asarray(self.residual_mass, np.float64)
        return np.clip(1.0 - np.exp(np.asarray(self.top_logprobs, np.float64)).sum(axis=1), 0.0, None)


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Log-softmax over the last axis, float32, shifted by the max (sums in float64)."""
    x = np.asarray(logits, np.float32)
    shifted = x - x.max(axis=-1, keepdims=True)
    lse = np.log(np.exp(shifted).sum(axis=-1, keepdims=True, dtype=np.float64))
    return (shifted - lse).astype(np.float32)


def _check(logprobs: np.ndarray, targets: np.ndarray, what: str) -> None:
    if logprobs.ndim != 2 or targets.shape != logprobs.shape[:1]:
        raise ValueError(
            f"{what}: log-probs (n, vocab) and targets (n,) expected, got {logprobs.shape} and {targets.shape}"
        )
    if targets.dtype.kind not in "iu" or (len(targets) and (targets.min() < 0 or targets.max() >= logprobs.shape[1])):
        raise ValueError(f"{what}: targets must be token ids in [0, {logprobs.shape[1]})")
    bad = np.flatnonzero(np.isnan(logprobs).any(axis=1) | np.isposinf(logprobs).any(axis=1))
    if len(bad):
        raise NonFinite(
            f"{what}: NaN or +Inf log-probs in {rows_text(bad, len(logprobs))}: those tokens cannot be scored"
        )


def _top(blk: np.ndarray, k: int) -> np.ndarray:
    """Ids of the ``k`` largest per row, descending, ties by lower id (so a golden is reproducible)."""
    kth = -np.partition(-blk, k - 1, axis=1)[:, k - 1 : k]
    ties = blk == kth
    chosen = (blk > kth) | (ties & (np.cumsum(ties, axis=1) <= k - (blk > kth).sum(axis=1, keepdims=True)))
    ids = np.nonzero(chosen)[1].reshape(len(blk), k)
    order = np.lexsort((ids, -np.take_along_axis(blk, ids, axis=1)), axis=-1)
    return np.take_along_axis(ids, order, axis=1)


def compact(logprobs: np.ndarray, targets: np.ndarray, k: int = TOP_K) -> BaseLogits:
    """The base's ``k`` most likely tokens per row (ties: lower id first) in fp16, the mass of the others
    and the log-prob of each target. ``logprobs``: (n, V) log-softmax of the base; ``targets``: (n,) next ids."""
    lp, t = np.asarray(logprobs), np.asarray(targets)
    _check(lp, t, "compact")
    n, vocab = lp.shape
    k = min(int(k), vocab)
    ids, vals, rest = np.empty((n, k), np.int32), np.empty((n, k), np.float16), np.zeros(n, np.float32)
    rows = max(1, _CELLS // max(vocab, 1))
    for s in range(0, n, rows):
        blk = lp[s : s + rows]
        ids[s : s + rows] = top = _top(blk, k)
        vals[s : s + rows] = np.take_along_axis(blk, top, axis=1)
        mass = np.exp(blk, dtype=np.float64)
        np.put_along_axis(mass, top, 0.0, axis=1)
        rest[s : s + rows] = mass.sum(axis=1)
    return BaseLogits(vals, ids, lp[np.arange(n), t].astype(np.float32), rest)


@dataclass(frozen=True)
class TokenFigures:
    """Per scored token, base vs quantized (the arrays llama.cpp accumulates in ``kl_divergence_result``)."""

    kld: np.ndarray  # (n,) KL(base || q), truncated base (see token_figures)
    nll_base: np.ndarray  # -log p_base(target)
    nll_q: np.ndarray  # -log p_q(target)
    dp: np.ndarray  # p_q(target) - p_base(target): llama.cpp's Δp
    same_top: np.ndarray  # bool: argmax q == the base's top token


def token_figures(base: BaseLogits, q_logprobs: np.ndarray, targets: np.ndarray) -> TokenFigures:
    """Per-token figures of a quantized model's log-softmax ``q_logprobs`` (n, V) against ``base``.

    KLD per token as llama.cpp defines it, sum_v p_base(v) (log p_base(v) - log p_q(v)), with the base
    truncated to its top k set K plus the residual mass r as one bucket:
    sum_{i in K} p_i (log p_i - log q_i) + r (log r - log r_q), r_q = sum_{v not in K} q_v (summed directly,
    not as 1 - sum_K q, so a small r_q keeps its digits). By the log-sum inequality this is <= the full KLD; the
    gap is exactly r * KL(p_tail / r || q_tail / r_q), zero when k = V. q below ``FLOOR`` counts as ``FLOOR``.

    It is computed in the equal form sum_K [p log(p/q) - p + q] + [r log(r/r_q) - r + r_q] (the added terms sum
    to -1 + 1 = 0 for normalised p and q): there the fp16 rounding of log p (up to |log p| * 2^-11, the
    fraction by which p is off) enters only multiplied by log(p/q), small exactly when the models are close.
    """
    q, t = np.asarray(q_logprobs), np.asarray(targets)
    _check(q, t, "token_figures")
    n, vocab = q.shape
    if base.top_ids.shape[0] != n or base.target_logprob.shape != (n,):
        raise ValueError(f"token_figures: the base holds {base.top_ids.shape[0]} tokens, the quantized model {n}")
    ids = np.asarray(base.top_ids)
    lp = np.asarray(base.top_logprobs, np.float64)
    lq, rq = np.empty(lp.shape), np.zeros(n)
    same = np.empty(n, bool)
    rows = max(1, _CELLS // max(vocab, 1))
    for s in range(0, n, rows):
        blk, top = q[s : s + rows], ids[s : s + rows]
        lq[s : s + rows] = np.take_along_axis(blk, top, axis=1)
        same[s : s + rows] = blk.argmax(axis=1) == top[:, 0]
        if ids.shape[1] < vocab:
            mass = np.exp(blk, dtype=np.float64)
            np.put_along_axis(mass, top, 0.0, axis=1)
            rq[s : s + rows] = mass.sum(axis=1)
    p, r, lq = np.exp(lp), base.residual, np.maximum(lq, math.log(FLOOR))
    with np.errstate(invalid="ignore", divide="ignore"):
        head = (np.where(p > 0, p * (lp - lq), 0.0) - p + np.exp(lq)).sum(axis=1)
        tail = np.where(r > 0, r * (np.log(r) - np.log(np.maximum(rq, FLOOR))), 0.0) - r + rq
    if ids.shape[1] >= vocab:
        tail[:] = 0.0  # no tokens outside the top k: what r holds is rounding
    nll_q = -q[np.arange(n), t].astype(np.float64)
    nll_base = -np.asarray(base.target_logprob, np.float64)
    return TokenFigures(head + tail, nll_base, nll_q, np.exp(-nll_q) - np.exp(-nll_base), same)


# --------------------------------------------------------------------------------------- statistics


def mean_se(x: np.ndarray) -> tuple[float, float]:
    """llama.cpp's ``mean_and_uncertainty``: the mean, and sqrt(var / (n - 1)) with the population variance
    sum(x^2)/n - mean^2; the standard error is 0 for n <= 10 (llama.cpp does no statistics there)."""
    n = len(x)
    if n < 1:
        return 0.0, 0.0
    f = float(np.sum(x, dtype=np.float64)) / n
    df = float(np.sum(np.square(x, dtype=np.float64))) / n - f * f
    return f, math.sqrt(df / (n - 1)) if df > 0 and n > 10 else 0.0


def covariance(a: np.ndarray, b: np.ndarray) -> float:
    """llama.cpp's ``covariance`` of two means: (sum(ab)/n - mean a * mean b) / (n - 1); 0 for n < 10."""
    n = len(a)
    if n < 10:
        return 0.0
    return (float(np.dot(a, b)) / n - float(np.mean(a)) * float(np.mean(b))) / (n - 1)


def percentiles(values: np.ndarray, levels: tuple[float, ...]) -> dict[str, float]:
    """llama.cpp's ``percentile``: linear between sorted values at fraction * (n - 1) (numpy's default);
    its median (mean of the middle two) is the 50th. Keys 'p99.9', 'p50', ..."""
    got = np.percentile(np.asarray(values, np.float64), levels)
    return {f"p{q:g}": float(v) for q, v in zip(levels, got, strict=True)}


def block_bootstrap(columns: np.ndarray, block: int, resamples: int, seed: int = 0) -> np.ndarray:
    """Means of each column (n, m) over ``resamples`` paired resamples of contiguous, non-overlapping blocks of
    ``block`` tokens (the last may be shorter): the same blocks for every column, so base and quantized
    stay paired. Returns (resamples, m); a resample's mean is its token sum over its token count."""
    n = len(columns)
    starts = np.arange(0, n, max(1, min(block, n)))
    sums = np.add.reduceat(np.asarray(columns, np.float64), starts, axis=0)
    counts = np.diff(np.append(starts, n)).astype(np.float64)
    nb, rng = len(starts), np.random.default_rng(seed)
    chunk = max(1, min(resamples, _CELLS // nb))
    out = []
    for s in range(0, resamples, chunk):
        m = min(chunk, resamples - s)  # w[j, b]: how often resample j drew block b (nb draws with replacement)
        draws = rng.integers(0, nb, size=(m, nb)) + nb * np.arange(m)[:, None]
        w = np.bincount(draws.ravel(), minlength=m * nb).reshape(m, nb).astype(np.float64)
        out.append((w @ sums) / (w @ counts)[:, None])
    return np.concatenate(out)


def _interval(values: np.ndarray, confidence: float) -> tuple[float, float]:
    alpha = (1 - confidence) / 2
    return float(np.quantile(values, alpha)), float(np.quantile(values, 1 - alpha))


@dataclass(frozen=True)
class KLDStats:
    """What ``llama-perplexity --kl-divergence`` prints, and the bootstrap intervals."""

    tokens: int
    mean_kld: float
    mean_kld_se: float
    kld_max: float
    kld_min: float
    kld_percentiles: dict[str, float]  # 'p99.9' ... 'p0.1' (KLD_PERCENTILES)
    ppl_q: float
    ppl_q_se: float
    ppl_base: float
    ppl_base_se: float
    ppl_ratio: float
    ppl_ratio_se: float
    ln_ppl_ratio_mean: float
    ln_ppl_ratio_se: float
    ln_ppl_correlation: float  # NaN when a standard error is 0
    ppl_diff: float
    ppl_diff_se: float
    dp_mean: float
    dp_mean_se: float
    dp_max: float
    dp_min: float
    dp_percentiles: dict[str, float]  # DP_PERCENTILES
    dp_rms: float
    dp_rms_se: float
    same_top: float
    same_top_se: float
    mean_kld_interval: tuple[float, float]
    ppl_ratio_interval: tuple[float, float]
    same_top_interval: tuple[float, float]
    confidence: float
    block: int
    resamples: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-able: floats, lists for intervals, None for NaN."""

        def clean(v: Any) -> Any:
            if isinstance(v, dict):
                return {k: clean(x) for k, x in v.items()}
            if isinstance(v, (tuple, list)):
                return [clean(x) for x in v]
            return None if isinstance(v, float) and not math.isfinite(v) else v

        return {k: clean(v) for k, v in asdict(self).items()}

    def render(self) -> str:
        """A compact table for a failure message (percentages as llama.cpp prints them)."""
        pct, kp, dpp = round(self.confidence * 100), self.kld_percentiles, self.dp_percentiles
        cor = f"{100 * self.ln_ppl_correlation:.2f}%" if math.isfinite(self.ln_ppl_correlation) else "n/a"
        ci = lambda i, fmt: f"{pct}% [{fmt.format(i[0])}, {fmt.format(i[1])}]"  # noqa: E731
        kld_pct = "  ".join(f"{k[1:]}% {kp[k]:.4f}" for k in ("p99.9", "p99", "p95", "p90", "p50", "p10"))
        dp_pct = "  ".join(f"{k[1:]}% {100 * dpp[k]:.2f}%" for k in ("p99", "p50", "p1"))
        return "\n".join([
            f"KL divergence on {self.tokens} tokens ({pct}% intervals: paired bootstrap over "
            f"{self.block}-token blocks, {self.resamples} resamples)",
            f"  mean KLD   {self.mean_kld:.6f} ± {self.mean_kld_se:.6f}  {ci(self.mean_kld_interval, '{:.6f}')}",
            f"  KLD        max {self.kld_max:.4f}  {kld_pct}  min {self.kld_min:.4f}",
            f"  PPL(Q)     {self.ppl_q:.4f} ± {self.ppl_q_se:.4f}  PPL(base) {self.ppl_base:.4f} ± "
            f"{self.ppl_base_se:.4f}  Cor(ln PPL(Q), ln PPL(base)) {cor}",
            f"  PPL ratio  {self.ppl_ratio:.4f} ± {self.ppl_ratio_se:.4f}  {ci(self.ppl_ratio_interval, '{:.4f}')}  "
            f"ln ratio {self.ln_ppl_ratio_mean:.6f} ± {self.ln_ppl_ratio_se:.6f}",
            f"  same top   {100 * self.same_top:.2f}% ± {100 * self.same_top_se:.2f}%  "
            f"{ci([100 * v for v in self.same_top_interval], '{:.2f}%')}",
            f"  Δp         mean {100 * self.dp_mean:.3f}% ± {100 * self.dp_mean_se:.3f}%  "
            f"RMS {100 * self.dp_rms:.3f}% ± {100 * self.dp_rms_se:.3f}%  max {100 * self.dp_max:.2f}%  {dp_pct}  "
            f"min {100 * self.dp_min:.2f}%",
        ])  # fmt: skip


def _ppl_figures(nll_q: np.ndarray, nll_base: np.ndarray) -> dict[str, float]:
    """llama.cpp's "Perplexity statistics": PPL ± exp(m) * se(m), the ln ratio's SE from both SEs and their
    covariance, Cor = cov / (se_q * se_base)."""
    (mq, sq), (mb, sb) = mean_se(nll_q), mean_se(nll_base)
    cov = covariance(nll_q, nll_base)
    ppl_q, ppl_base, ln_ratio = math.exp(mq), math.exp(mb), mq - mb
    ln_se = math.sqrt(max(sq * sq + sb * sb - 2 * cov, 0.0))
    ppl_q_se, ppl_base_se = ppl_q * sq, ppl_base * sb
    diff_var = ppl_q_se**2 + ppl_base_se**2 - 2 * ppl_q * ppl_base * cov
    return dict(
        ppl_q=ppl_q, ppl_q_se=ppl_q_se, ppl_base=ppl_base, ppl_base_se=ppl_base_se,
        ppl_ratio=math.exp(ln_ratio), ppl_ratio_se=math.exp(ln_ratio) * ln_se,
        ln_ppl_ratio_mean=ln_ratio, ln_ppl_ratio_se=ln_se,
        ln_ppl_correlation=cov / (sq * sb) if sq > 0 and sb > 0 else math.nan,
        ppl_diff=ppl_q - ppl_base, ppl_diff_se=math.sqrt(max(diff_var, 0.0)),
    )  # fmt: skip


def summarize(
    fig: TokenFigures, *, block: int = 32, confidence: float = 0.95, resamples: int = 2000, seed: int = 0
) -> KLDStats:
    """The statistics llama.cpp prints over all scored tokens, and paired block-bootstrap intervals of the
    mean KLD, PPL(Q)/PPL(base) (per resample exp(mean nll_q - mean nll_base)) and the same-top rate.
    Deterministic given ``seed``; ``block`` is capped at the token count."""
    kld = np.asarray(fig.kld, np.float64)
    n = len(kld)
    if n == 0:
        raise ValueError("summarize: no scored tokens")
    nll_q, nll_base = np.asarray(fig.nll_q, np.float64), np.asarray(fig.nll_base, np.float64)
    dp, same = np.asarray(fig.dp, np.float64), np.asarray(fig.same_top, np.float64)
    mean_kld, mean_kld_se = mean_se(kld)
    dp_mean, dp_mean_se = mean_se(dp)
    mse, mse_se = mean_se(dp * dp)  # llama.cpp: mean_and_uncertainty(sum Δp², sum Δp⁴)
    rms = math.sqrt(mse)
    top = float(same.mean())
    top_se = math.sqrt(top * (1 - top) / (n - 1)) if n > 1 else 0.0
    block = max(1, min(int(block), n))
    boot = block_bootstrap(np.column_stack([kld, nll_q - nll_base, same]), block, resamples, seed)
    ratio_lo, ratio_hi = _interval(boot[:, 1], confidence)
    return KLDStats(
        tokens=n, mean_kld=mean_kld, mean_kld_se=mean_kld_se, kld_max=float(kld.max()), kld_min=float(kld.min()),
        kld_percentiles=percentiles(kld, KLD_PERCENTILES), **_ppl_figures(nll_q, nll_base),
        dp_mean=dp_mean, dp_mean_se=dp_mean_se, dp_max=float(dp.max()), dp_min=float(dp.min()),
        dp_percentiles=percentiles(dp, DP_PERCENTILES), dp_rms=rms, dp_rms_se=0.5 / rms * mse_se if rms > 0 else 0.0,
        same_top=top, same_top_se=top_se,
        mean_kld_interval=_interval(boot[:, 0], confidence),
        ppl_ratio_interval=(math.exp(ratio_lo), math.exp(ratio_hi)),
        same_top_interval=_interval(boot[:, 2], confidence),
        confidence=confidence, block=block, resamples=resamples,
    )  # fmt: skip
