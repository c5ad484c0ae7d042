"""Array comparison against parity criteria: float64 statistics, and failure tables that explain a mismatch."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .parity_criteria import Criteria, Spec, looks_like_class_scores

MAX_LISTED = 20  # mismatching elements listed in a failure message


@dataclass
class OutputReport:
    name: str
    ok: bool
    criteria: Criteria
    criteria_source: str
    shape: tuple[int, ...] = ()
    dtype: str = ""
    ref_dtype: str = ""
    problems: list[str] = field(default_factory=list)  # structural: missing, shape, dtype kind
    failed: list[str] = field(default_factory=list)  # criteria that did not hold
    stats: dict[str, Any] = field(default_factory=dict)
    listed: list[tuple[tuple[int, ...], float, float, float, float]] = field(default_factory=list)
    would_pass: list[str] = field(default_factory=list)
    # The same as criteria values: one change per failed criterion that makes it hold (the first
    # alternative of ``would_pass``; atol keeps rtol), for suggesting a marker.
    loosen: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "shape": list(self.shape),
            "dtype": self.dtype,
            "reference_dtype": self.ref_dtype,
            "criteria": self.criteria.applied(),
            "criteria_source": self.criteria_source,
            "problems": self.problems,
            "failed": self.failed,
            "stats": {k: v for k, v in self.stats.items() if k != "worst_index"}
            | {"worst_index": list(self.stats.get("worst_index", ()))},
            "would_pass": list(self.would_pass),
            "listed": [
                {"index": list(ix), "reference": ref, "actual": act, "abs_error": ae, "rel_error": re_}
                for ix, ref, act, ae, re_ in self.listed
            ],
        }


@dataclass
class Comparison:
    label: str  # e.g. "optimized (CPU) vs golden"
    outputs: dict[str, OutputReport]
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and all(o.ok for o in self.outputs.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "ok": self.ok,
            "problems": self.problems,
            "outputs": {k: v.to_dict() for k, v in self.outputs.items()},
        }


def _fmt(x: float) -> str:
    if isinstance(x, float) and (math.isinf(x) or math.isnan(x)):
        return str(x)
    return f"{x:.6g}"


def _db(signal: float, noise: float) -> float:
    if noise == 0:
        return math.inf
    ratio = signal / noise
    return 10 * math.log10(ratio) if ratio > 0 else -math.inf


def _topk_agreement(a: np.ndarray, r: np.ndarray, k: int, axis: int) -> float | None:
    if a.ndim == 0 or not -a.ndim <= axis < a.ndim or a.shape[axis] < max(k, 2):
        return None
    a2 = np.moveaxis(a, axis, -1).reshape(-1, a.shape[axis])
    r2 = np.moveaxis(r, axis, -1).reshape(-1, r.shape[axis])
    if a2.shape[0] == 0:
        return None
    a_top = np.sort(np.argsort(-a2, axis=1, kind="stable")[:, :k], axis=1)
    r_top = np.sort(np.argsort(-r2, axis=1, kind="stable")[:, :k], axis=1)
    return float(np.mean(np.all(a_top == r_top, axis=1)))


def compare_output(
    name: str, actual: np.ndarray, reference: np.ndarray, criteria: Criteria, source: str
) -> OutputReport:
    """Compare one output in float64 (integers and bools exactly) against ``criteria``."""
    # inf - inf and 0/0 are expected with special values; they are handled explicitly, not warned about.
    with np.errstate(invalid="ignore", over="ignore", divide="ignore", under="ignore"):
        return _compare_output(name, actual, reference, criteria, source)


def _compare_output(
    name: str, actual: np.ndarray, reference: np.ndarray, criteria: Criteria, source: str
) -> OutputReport:
    rep = OutputReport(name, True, criteria, source, tuple(actual.shape), actual.dtype.name, reference.dtype.name)
    rep.problems += _structure_problems(actual, reference)
    if rep.problems:
        rep.ok = False
        return rep
    if not {actual.dtype.kind, reference.dtype.kind} <= {"f"}:  # integer and bool outputs compare exactly
        _compare_exact(rep, actual, reference)
        return rep
    e = _errors(actual, reference, criteria)
    stats: dict[str, Any] = {"elements": int(actual.size), "nan_mismatches": int(np.count_nonzero(e.nan_mismatch))}
    stats.update(_error_stats(e, criteria))
    stats.update(_similarity_stats(e.a[e.finite], e.r[e.finite]))
    agree = _top_k_stat(stats, e, criteria)
    outside = _judge_elementwise(rep, stats, e, criteria)
    _judge_bounds(rep, stats, criteria)
    _judge_top_k(rep, stats, agree, e.a, criteria)
    if rep.failed:
        rep.ok = False
        _list_worst(rep, e, outside)
    rep.stats = stats
    return rep


def _structure_problems(actual: np.ndarray, reference: np.ndarray) -> list[str]:
    """Why the arrays cannot be compared value by value: shape, or dtypes of kinds that do not mix."""
    problems = []
    if actual.shape != reference.shape:
        problems.append(f"shape {tuple(actual.shape)} differs from the reference's {tuple(reference.shape)}")
    kinds = {actual.dtype.kind, reference.dtype.kind}
    if not kinds <= {"f", "c"} and len(kinds) > 1 and not kinds <= {"i", "u"}:
        problems.append(f"dtype {actual.dtype.name} is not comparable with the reference's {reference.dtype.name}")
    return problems


def _compare_exact(rep: OutputReport, actual: np.ndarray, reference: np.ndarray) -> None:
    """Integer and bool outputs: every element must be equal."""
    n = int(actual.size)
    diff = actual != reference
    bad = int(np.count_nonzero(diff))
    rep.stats = {"elements": n, "mismatches": bad, "exact": True}
    if bad:
        rep.ok = False
        rep.failed.append(f"exact equality ({actual.dtype.name}): {bad}/{n} elements differ")
        idx = np.argwhere(diff)[:MAX_LISTED]
        rep.listed = [
            (
                tuple(int(i) for i in ix),
                float(reference[tuple(ix)]),
                float(actual[tuple(ix)]),
                float("nan"),
                float("nan"),
            )
            for ix in idx
        ]


@dataclass
class _Errors:
    """Elementwise errors of one float output, in float64, with the masks saying which elements count."""

    a: np.ndarray
    r: np.ndarray
    considered: np.ndarray  # judged: not NaN in both (with nan='ignore': NaN in neither)
    nan_mismatch: np.ndarray  # NaN in one only (none counted with nan='ignore')
    finite: np.ndarray
    abs_err: np.ndarray
    abs_r: np.ndarray  # |reference|, 0 where it is not finite
    rel_err: np.ndarray


def _errors(actual: np.ndarray, reference: np.ndarray, criteria: Criteria) -> _Errors:
    a = actual.astype(np.float64)
    r = reference.astype(np.float64)
    a_nan, r_nan = np.isnan(a), np.isnan(r)
    nan_mismatch = a_nan != r_nan
    if criteria.nan == "ignore":
        considered = ~(a_nan | r_nan)
        nan_mismatch = np.zeros_like(nan_mismatch)
    else:
        considered = ~(a_nan & r_nan)  # NaN where both are NaN is agreement
    same_inf = np.isinf(a) & np.isinf(r) & (a == r)
    finite = np.isfinite(a) & np.isfinite(r)
    abs_err = np.zeros_like(a)
    abs_err[finite] = np.abs(a[finite] - r[finite])
    abs_err[considered & ~finite & ~same_inf] = np.inf  # NaN vs number, inf vs other
    abs_err[~considered | same_inf] = 0.0
    abs_r = np.where(np.isfinite(r), np.abs(r), 0.0)
    rms = float(np.sqrt(np.mean(abs_r[finite] ** 2))) if finite.any() else 0.0
    floor = criteria.rel_floor if criteria.rel_floor is not None else max(1e-3 * rms, np.finfo(np.float64).tiny)
    rel_err = abs_err / np.maximum(abs_r, floor)
    return _Errors(a, r, considered, nan_mismatch, finite, abs_err, abs_r, rel_err)


def _error_stats(e: _Errors, criteria: Criteria) -> dict[str, Any]:
    """Absolute and relative errors over the elements considered: worst (and where), mean, median, quantile."""
    counted = e.abs_err[e.considered]
    if not counted.size:
        return {}
    a, r = e.a, e.r
    flat = int(np.argmax(np.where(e.considered, e.abs_err, -1.0)))
    worst = tuple(int(i) for i in np.unravel_index(flat, a.shape)) if a.ndim else ()
    return dict(
        max_abs_error=float(counted.max()),
        max_rel_error=float(e.rel_err[e.considered].max()),
        worst_index=worst,
        worst_reference=float(r[worst] if worst else r),
        worst_actual=float(a[worst] if worst else a),
        mean_abs_error=float(counted.mean()),
        median_abs_error=float(np.median(counted)),
        quantile=criteria.quantile,
        quantile_abs_error=float(np.quantile(counted, criteria.quantile)),
        error_histogram=error_histogram(counted),
    )


def error_histogram(abs_err: np.ndarray, bins: int = 24) -> dict[str, Any]:
    """Where the absolute errors fall, for the HTML report: counts over ``bins`` log-spaced bins between the
    smallest and the largest finite non-zero error, beside the exact zeros and the non-finite ones."""
    finite = abs_err[np.isfinite(abs_err)]
    nonzero = finite[finite > 0]
    out: dict[str, Any] = {
        "zeros": int(finite.size - nonzero.size),
        "nonfinite": int(abs_err.size - finite.size),
        "edges": [],
        "counts": [],
    }
    if nonzero.size:
        lo, hi = float(np.log10(nonzero.min())), float(np.log10(nonzero.max()))
        if hi - lo < 0.2:  # (nearly) one value: a decade around it
            lo, hi = (lo + hi) / 2 - 0.5, (lo + hi) / 2 + 0.5
        edges = np.logspace(lo, hi, bins + 1)
        counts, _ = np.histogram(np.clip(nonzero, edges[0], edges[-1]), bins=edges)
        out["edges"] = [float(f"{v:.4g}") for v in edges]
        out["counts"] = [int(c) for c in counts]
    return out


def _similarity_stats(av: np.ndarray, rv: np.ndarray) -> dict[str, Any]:
    """Cosine, SNR and PSNR over the elements finite in both."""
    if not av.size:
        return {}
    stats: dict[str, Any] = {}
    # Cosine, SNR and PSNR are scale-free: scaling first keeps huge and tiny values from overflowing.
    scale = max(float(np.max(np.abs(av))), float(np.max(np.abs(rv))))
    if scale > 0:
        av, rv = av / scale, rv / scale
    na, nr = float(np.linalg.norm(av)), float(np.linalg.norm(rv))
    if na and nr:
        # 1 - |â - r̂|²/2 equals the cosine, is exactly 1 for identical vectors, and keeps its
        # precision near 1, where thresholds like 0.9999 live (a dot product loses it there).
        stats["cosine"] = max(-1.0, 1.0 - 0.5 * float(np.sum((av / na - rv / nr) ** 2)))
    else:
        stats["cosine"] = 1.0 if na == nr else 0.0
    noise = float(np.sum((av - rv) ** 2))
    stats["snr_db"] = _db(float(np.sum(rv**2)), noise)
    stats["psnr_db"] = _db(float(np.max(np.abs(rv))) ** 2, noise / av.size)
    return stats


def _top_k_stat(stats: dict[str, Any], e: _Errors, criteria: Criteria) -> float | None:
    """Top-k agreement along the class axis, added to ``stats`` when it applies."""
    k = criteria.top_k or 1
    # Shown without the criterion only for class scores: argmax along a map's last axis means nothing.
    shown = criteria.top_k is not None or (criteria.class_axis == -1 and looks_like_class_scores(e.a.shape))
    agree = _topk_agreement(np.nan_to_num(e.a), np.nan_to_num(e.r), k, criteria.class_axis) if shown else None
    if agree is not None:
        stats[f"top{k}_agreement"] = agree
    return agree


def _judge_elementwise(rep: OutputReport, stats: dict[str, Any], e: _Errors, criteria: Criteria) -> np.ndarray:
    """Elementwise: |a - r| <= atol + rtol * |r|, the numpy.allclose / torch.allclose meaning. NaN positions
    must agree (nan='match'). Returns the elements outside."""
    outside = e.nan_mismatch.copy()
    if not criteria.elementwise:
        if e.nan_mismatch.any():
            rep.failed.append(f"NaN positions differ at {int(e.nan_mismatch.sum())} elements (nan='match')")
            rep.loosen["nan"] = "ignore"
        return outside
    n = int(e.a.size)
    atol, rtol = criteria.atol or 0.0, criteria.rtol or 0.0
    outside |= e.considered & (e.abs_err > atol + rtol * e.abs_r)
    bad = int(np.count_nonzero(outside))
    stats["mismatches"] = bad
    allowed = math.floor(criteria.max_mismatch * n)
    if bad <= allowed:
        return outside
    pct = 100.0 * bad / max(n, 1)
    rep.failed.append(
        f"|a - r| <= atol + rtol*|r| (atol={_fmt(atol)}, rtol={_fmt(rtol)}): {bad}/{n} elements "
        f"({pct:.3g}%) outside, {allowed} allowed (max_mismatch={_fmt(criteria.max_mismatch)})"
    )
    _loosen_elementwise(rep, e, atol, rtol, allowed)
    return outside


def _loosen_elementwise(rep: OutputReport, e: _Errors, atol: float, rtol: float, allowed: int) -> None:
    """The smallest atol (or rtol) that leaves no more than ``allowed`` elements outside."""
    abs_err, abs_r = e.abs_err, e.abs_r
    need_atol = np.sort((abs_err - rtol * abs_r)[e.considered])
    need_rtol = np.sort(
        np.where(abs_r > 0, (abs_err - atol) / np.where(abs_r > 0, abs_r, 1), np.where(abs_err > atol, np.inf, 0))[
            e.considered
        ]
    )
    if need_atol.size > allowed:
        pos = need_atol.size - 1 - allowed
        rep.would_pass.append(f"atol >= {_fmt(max(float(need_atol[pos]), 0.0))} (rtol={_fmt(rtol)})")
        rep.would_pass.append(f"rtol >= {_fmt(max(float(need_rtol[pos]), 0.0))} (atol={_fmt(atol)})")
        rep.loosen["atol"] = max(float(need_atol[pos]), 0.0)
    if e.nan_mismatch.any():
        rep.would_pass.append("nan='ignore' (NaN positions differ)")
        rep.loosen["nan"] = "ignore"


def _judge_bounds(rep: OutputReport, stats: dict[str, Any], criteria: Criteria) -> None:
    """Bounds on the error statistics (at most) and on cosine, SNR and PSNR (at least)."""
    for key in ("max_abs_error", "mean_abs_error", "median_abs_error", "quantile_abs_error"):
        bound = getattr(criteria, key)
        if bound is not None and stats.get(key, 0.0) > bound:
            label = f"p{criteria.quantile * 100:g} abs error" if key == "quantile_abs_error" else key.replace("_", " ")
            rep.failed.append(f"{label} <= {_fmt(bound)}: got {_fmt(stats[key])}")
            rep.would_pass.append(f"{key} >= {_fmt(stats[key])}")
            rep.loosen[key] = stats[key]
    for key, label in (("cosine", "cosine"), ("snr_db", "SNR dB"), ("psnr_db", "PSNR dB")):
        bound = getattr(criteria, key)
        if bound is not None and stats.get(key, -math.inf) < bound:
            rep.failed.append(f"{label} >= {_fmt(bound)}: got {_fmt(stats.get(key, float('nan')))}")
            rep.would_pass.append(f"{key} <= {_fmt(stats.get(key, float('nan')))}")
            rep.loosen[key] = stats.get(key, float("nan"))


def _judge_top_k(
    rep: OutputReport, stats: dict[str, Any], agree: float | None, a: np.ndarray, criteria: Criteria
) -> None:
    if criteria.top_k is None:
        return
    k = criteria.top_k
    if agree is None:  # a regression head or a scalar: top-k does not apply to this output
        stats[f"top{k}_agreement"] = "n/a"
    elif agree < criteria.top_k_agreement:
        rows = round((1 - agree) * (a.size // a.shape[criteria.class_axis]))
        rep.failed.append(
            f"top-{k} agreement >= {_fmt(criteria.top_k_agreement)}: got {_fmt(agree)} ({rows} rows disagree)"
        )
        rep.would_pass.append(f"top_k_agreement <= {_fmt(agree)}")
        rep.loosen["top_k_agreement"] = agree


def _list_worst(rep: OutputReport, e: _Errors, outside: np.ndarray) -> None:
    """The worst elements of a failed output, for the failure table: those outside the tolerance when one
    applies (or NaN positions differ), else any that differ."""
    a, abs_err = e.a, e.abs_err
    where = outside if rep.criteria.elementwise or e.nan_mismatch.any() else e.considered & (abs_err > 0)
    order = np.argsort(-np.where(where, abs_err, -1.0), axis=None, kind="stable")[: min(MAX_LISTED, int(where.sum()))]
    for flat in order:
        ix = tuple(int(i) for i in np.unravel_index(int(flat), a.shape)) if a.ndim else ()
        rep.listed.append((ix, float(e.r[ix]), float(a[ix]), float(abs_err[ix]), float(e.rel_err[ix])))


def compare(
    actual: Mapping[str, np.ndarray], reference: Mapping[str, np.ndarray], spec: Spec, kind: str, label: str
) -> Comparison:
    """Compare every output; names are checked before values."""
    problems = []
    missing = [n for n in reference if n not in actual]
    extra = [n for n in actual if n not in reference]
    if missing:
        problems.append(f"outputs missing from the result: {', '.join(missing)}")
    if extra:
        problems.append(f"outputs not in the reference: {', '.join(extra)}")
    unknown = [n for n in spec.outputs if n not in reference]
    if unknown:
        problems.append(
            f"parity marker outputs= names {', '.join(map(repr, unknown))}, which the model does not have (outputs: {', '.join(reference)})"
        )
    outputs = {}
    for name in reference:
        if name in actual:
            criteria, source = spec.for_output(name, kind)
            if (
                source == f"default for {kind}"
                and criteria.top_k is not None
                and not looks_like_class_scores(np.shape(reference[name]))
            ):
                # The defaults' top-k judges class scores only ([N, C]); a class_axis the user gave opts in.
                criteria = replace(criteria, top_k=None, top_k_agreement=1.0)
            outputs[name] = compare_output(
                name, np.asarray(actual[name]), np.asarray(reference[name]), criteria, source
            )
    return Comparison(label, outputs, problems)


# ---------------------------------------------------------------------------------------------- report


def render(cmp: Comparison) -> list[str]:
    """The failure report for one comparison: structure first, then per output what failed and by how much."""
    lines = [f"{cmp.label}: {'ok' if cmp.ok else 'FAILED'}"]
    lines += [f"  {p}" for p in cmp.problems]
    for rep in cmp.outputs.values():
        status = "ok" if rep.ok else "FAILED"
        dtype = rep.dtype if rep.dtype == rep.ref_dtype else f"{rep.dtype} (reference {rep.ref_dtype})"
        lines.append(f"  output {rep.name!r} {list(rep.shape)} {dtype}: {status}  [criteria: {rep.criteria_source}]")
        lines += [f"    {p}" for p in rep.problems]
        if rep.ok or rep.problems:
            continue
        s = rep.stats
        if s.get("exact"):
            lines.append(f"    mismatches: {s['mismatches']}/{s['elements']}")
        else:
            if "mismatches" in s:
                pct = 100.0 * s["mismatches"] / max(s["elements"], 1)
                lines.append(f"    mismatches: {s['mismatches']}/{s['elements']} ({pct:.3g}%)")
            if "max_abs_error" in s:
                lines.append(
                    f"    max abs error {_fmt(s['max_abs_error'])} at {list(s['worst_index'])} "
                    f"(reference {_fmt(s['worst_reference'])}, actual {_fmt(s['worst_actual'])}); max rel error {_fmt(s['max_rel_error'])}"
                )
                lines.append(
                    f"    mean abs error {_fmt(s['mean_abs_error'])}, median {_fmt(s['median_abs_error'])}, "
                    f"p{s['quantile'] * 100:g} {_fmt(s['quantile_abs_error'])}"
                )
            summary = [
                f"{lbl} {_fmt(s[key])}"
                for key, lbl in (("cosine", "cosine"), ("snr_db", "SNR dB"), ("psnr_db", "PSNR dB"))
                if key in s
            ]
            summary += [
                f"{key.replace('_', ' ')} {v if isinstance(v, str) else _fmt(v)}"
                for key, v in s.items()
                if key.startswith("top") and key.endswith("agreement")
            ]
            if summary:
                lines.append("    " + ", ".join(summary))
            if s.get("nan_mismatches"):
                lines.append(f"    NaN positions differ at {s['nan_mismatches']} elements")
        lines += [f"    failed: {f}" for f in rep.failed]
        if rep.would_pass:
            lines.append("    would pass with: " + " or ".join(rep.would_pass))
        if rep.listed:
            lines.append(f"    {'index':<18}{'reference':>14}{'actual':>14}{'abs err':>12}{'rel err':>12}")
            for ix, ref, act, ae, re_ in rep.listed:
                lines.append(f"    {list(ix)!s:<18}{_fmt(ref):>14}{_fmt(act):>14}{_fmt(ae):>12}{_fmt(re_):>12}")
            shown = len(rep.listed)
            total = s.get("mismatches", shown)
            if total > shown:
                lines.append(f"    ... {total - shown} more")
    return lines
