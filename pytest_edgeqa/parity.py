"""Array comparison: criteria, float64 statistics, and failure tables that explain a mismatch."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import numpy as np

from .config import short
from .errors import ConfigError

MAX_LISTED = 20  # mismatching elements listed in a failure message


@dataclass(frozen=True)
class Criteria:
    """What must hold for one output. ``None`` means the criterion is not applied."""

    atol: float | None = None
    rtol: float | None = None
    max_mismatch: float = 0.0  # fraction of elements allowed outside atol + rtol*|ref|
    max_abs_error: float | None = None
    mean_abs_error: float | None = None
    median_abs_error: float | None = None
    quantile: float = 0.99  # which quantile quantile_abs_error bounds (and the report shows)
    quantile_abs_error: float | None = None
    cosine: float | None = None  # minimum cosine similarity
    snr_db: float | None = None  # minimum signal-to-noise ratio
    psnr_db: float | None = None  # minimum peak SNR (peak = max |reference|)
    top_k: int | None = None  # top-k agreement along class_axis (k=1: argmax agreement)
    top_k_agreement: float = 1.0  # fraction of rows whose top-k sets must agree
    class_axis: int = -1
    nan: str = "match"  # "match": NaN positions must agree; "ignore": skip elements where either is NaN
    rel_floor: float | None = None  # relative error = |a-r| / max(|r|, floor); default 1e-3 * RMS(|r|)

    @property
    def elementwise(self) -> bool:
        return self.atol is not None or self.rtol is not None

    def applied(self) -> dict[str, Any]:
        """The criteria in force, for manifests and reports."""
        d = {k: v for k, v in asdict(self).items() if v is not None}
        for key, default in (
            ("max_mismatch", 0.0),
            ("quantile", 0.99),
            ("top_k_agreement", 1.0),
            ("class_axis", -1),
            ("nan", "match"),
        ):
            if d.get(key) == default:
                d.pop(key)
        return d


CRITERIA_KEYS = tuple(f.name for f in fields(Criteria))


def _number(key: str, value: Any, where: str, lo: float | None = None, hi: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise ConfigError(f"{where}: {key}={short(value)}; expected a number")
    if math.isinf(value):
        raise ConfigError(f"{where}: {key}={value!r}; expected a finite number (leave {key} out to not apply it)")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        bounds = f"between {lo} and {hi}" if hi is not None else f"at least {lo}"
        raise ConfigError(f"{where}: {key}={value!r}; expected a number {bounds}")
    return float(value)


def criteria_from(options: Mapping[str, Any], where: str) -> Criteria:
    """Validate criteria from a marker (or its ``outputs={name: {...}}`` entry)."""
    unknown = sorted(set(options) - set(CRITERIA_KEYS))
    if unknown:
        raise ConfigError(
            f"{where}: unknown argument {', '.join(map(repr, unknown))} (expected: {', '.join(CRITERIA_KEYS)})"
        )
    values: dict[str, Any] = {}
    for key, value in options.items():
        if key in (
            "atol",
            "max_abs_error",
            "mean_abs_error",
            "median_abs_error",
            "quantile_abs_error",
            "rel_floor",
            "rtol",
        ):
            values[key] = _number(key, value, where, lo=0.0)
        elif key in ("max_mismatch", "quantile", "top_k_agreement"):
            values[key] = _number(key, value, where, lo=0.0, hi=1.0)
        elif key == "cosine":
            values[key] = _number(key, value, where, lo=-1.0, hi=1.0)
        elif key in ("snr_db", "psnr_db"):
            values[key] = _number(key, value, where)
        elif key in ("top_k", "class_axis"):
            if isinstance(value, bool) or not isinstance(value, int) or (key == "top_k" and value < 1):
                raise ConfigError(
                    f"{where}: {key}={short(value)}; expected {'a positive' if key == 'top_k' else 'an'} integer"
                )
            values[key] = value
        elif key == "nan":
            if not isinstance(value, str) or value not in ("match", "ignore"):
                raise ConfigError(f"{where}: nan={short(value)}; expected 'match' or 'ignore'")
            values[key] = value
    for key, needs in (("max_mismatch", ("atol", "rtol")), ("top_k_agreement", ("top_k",))):
        if key in options and not any(n in options for n in needs):
            raise ConfigError(
                f"{where}: {key}={options[key]!r} applies to {' or '.join(needs)}, which {'is' if len(needs) == 1 else 'are'} not given"
            )
    c = Criteria(**values)
    if c.atol is not None and c.rtol is None:
        c = replace(c, rtol=0.0)
    if c.rtol is not None and c.atol is None:
        c = replace(c, atol=0.0)
    return c


@dataclass(frozen=True)
class Spec:
    """Criteria per output: explicit ones, a default for the rest, or (neither given) defaults by kind."""

    default: Criteria | None = None
    outputs: Mapping[str, Criteria] = field(default_factory=dict)
    # A top-level class_axis without criteria: the defaults apply along it (with the other top-level
    # modifiers given beside it), their top-k to every output that has the axis.
    class_axis: int | None = None
    modifiers: Mapping[str, Any] = field(default_factory=dict)

    def for_output(self, name: str, kind: str) -> tuple[Criteria, str]:
        if name in self.outputs:
            return self.outputs[name], "marker outputs=" + name
        if self.default is not None:
            return self.default, "marker"
        if self.class_axis is not None:
            given = ", ".join(f"{k}={v!r}" for k, v in self.modifiers.items())
            return replace(DEFAULTS[kind], **self.modifiers), f"default for {kind}, {given}"
        return DEFAULTS[kind], f"default for {kind}"


def looks_like_class_scores(shape: tuple[int, ...]) -> bool:
    """Whether an output is shaped like class scores, [N, C] with C >= 2: the outputs the defaults' top-k
    judges. A rank-3 [N, T, C] output is not: it is as often a piano roll, a spectrogram or hidden states as
    per-step class scores (give top_k, or class_axis, to judge those), and neither are maps such as
    [N, 1, H, W] or a single score [N, 1]."""
    return len(shape) == 2 and shape[1] >= 2


# What each output inherits from the top level of the marker: how to compare, not what must hold.
INHERITED = ("nan", "class_axis", "quantile", "rel_floor")
# Criteria proper: what must hold. A set of only modifiers would judge nothing but NaN positions.
JUDGING = tuple(k for k in CRITERIA_KEYS if k not in (*INHERITED, "max_mismatch", "top_k_agreement"))


def spec_from_marker(args: tuple[Any, ...], kwargs: Mapping[str, Any], where: str = "parity marker") -> Spec:
    """Validate the marker's arguments (``where`` names their source in errors). Top-level modifiers
    (nan, class_axis, quantile, rel_floor) without a criterion only pass down to ``outputs=``: outputs not
    named then keep the defaults by kind. A criteria set that would judge nothing is refused."""
    if args:
        raise ConfigError(f"{where}: takes keyword arguments only, e.g. parity(cosine=0.999, top_k=1)")
    options = dict(kwargs)
    per_output = options.pop("outputs", None) or {}
    if not isinstance(per_output, Mapping) or not all(isinstance(v, Mapping) for v in per_output.values()):
        raise ConfigError(f"{where}: outputs= expects {{output name: {{criterion: value}}}}")
    default = criteria_from(options, where) if options else None
    class_axis, modifiers = None, {}
    if default is not None and not any(k in options for k in JUDGING):
        if "class_axis" in options:  # the defaults' top-k along this axis, for every output that has it
            class_axis = default.class_axis
            modifiers = {k: getattr(default, k) for k in INHERITED if k in options}
        elif not per_output:
            raise ConfigError(
                f"{where}: {', '.join(f'{k}={short(v)}' for k, v in options.items())} sets no criterion, so "
                f"nothing would be checked; add one of {', '.join(JUDGING)} (or leave the marker out for the "
                "defaults by precision)"
            )
        default = None  # only modifiers for the outputs below; the outputs not named keep the defaults
    outputs = {}
    for name, opts in per_output.items():
        label = f"{where} outputs[{name!r}]"
        if not any(k in opts for k in JUDGING):
            raise ConfigError(
                f"{label}: sets no criterion, so nothing would be checked; add one of {', '.join(JUDGING)}"
            )
        base = {k: v for k, v in (options.items()) if k in INHERITED}
        outputs[str(name)] = criteria_from({**base, **opts}, label)
    return Spec(default=default, outputs=outputs, class_axis=class_axis, modifiers=modifiers)


# Defaults when the marker gives no numbers, by what the compared model is. The README states them.
DEFAULTS: Mapping[str, Criteria] = {
    "f32": Criteria(atol=1e-4, rtol=1e-4),
    "f16": Criteria(atol=1e-2, rtol=1e-2, max_mismatch=0.001),
    "bf16": Criteria(atol=6e-2, rtol=6e-2, max_mismatch=0.001),
    "int8": Criteria(cosine=0.995, snr_db=20.0, top_k=1, top_k_agreement=0.95),
    "int4": Criteria(cosine=0.98, snr_db=15.0, top_k=1, top_k_agreement=0.90),
}


def kind_of(precision: str, weights: str | None) -> str:
    """The default-criteria kind for a model: integer weights first, then the lowest float precision
    among the inference precision in force and the weights' storage type."""
    if weights in ("int8", "int4"):
        return weights
    if precision == "bf16":
        return "bf16"
    return "f16" if "f16" in (precision, weights) else "f32"


# ------------------------------------------------------------------------------------------ comparison


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
    if actual.shape != reference.shape:
        rep.problems.append(f"shape {tuple(actual.shape)} differs from the reference's {tuple(reference.shape)}")
    kinds = {actual.dtype.kind, reference.dtype.kind}
    if not kinds <= {"f", "c"} and len(kinds) > 1 and not kinds <= {"i", "u"}:
        rep.problems.append(f"dtype {actual.dtype.name} is not comparable with the reference's {reference.dtype.name}")
    if rep.problems:
        rep.ok = False
        return rep
    n = int(actual.size)
    if not kinds <= {"f"}:  # integer and bool outputs compare exactly
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
        return rep

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

    counted = abs_err[considered]
    stats: dict[str, Any] = {"elements": n, "nan_mismatches": int(np.count_nonzero(nan_mismatch))}
    if counted.size:
        flat = int(np.argmax(np.where(considered, abs_err, -1.0)))
        worst = tuple(int(i) for i in np.unravel_index(flat, a.shape)) if a.ndim else ()
        stats.update(
            max_abs_error=float(counted.max()),
            max_rel_error=float(rel_err[considered].max()),
            worst_index=worst,
            worst_reference=float(r[worst] if worst else r),
            worst_actual=float(a[worst] if worst else a),
            mean_abs_error=float(counted.mean()),
            median_abs_error=float(np.median(counted)),
            quantile=criteria.quantile,
            quantile_abs_error=float(np.quantile(counted, criteria.quantile)),
        )
    both = finite
    if both.any():
        av, rv = a[both], r[both]
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
    k = criteria.top_k or 1
    # Shown without the criterion only for class scores: argmax along a map's last axis means nothing.
    shown = criteria.top_k is not None or (criteria.class_axis == -1 and looks_like_class_scores(a.shape))
    agree = _topk_agreement(np.nan_to_num(a), np.nan_to_num(r), k, criteria.class_axis) if shown else None
    if agree is not None:
        stats[f"top{k}_agreement"] = agree

    # Elementwise: |a - r| <= atol + rtol * |r|, the numpy.allclose / torch.allclose meaning.
    outside = nan_mismatch.copy()
    if criteria.elementwise:
        atol, rtol = criteria.atol or 0.0, criteria.rtol or 0.0
        outside |= considered & (abs_err > atol + rtol * abs_r)
        bad = int(np.count_nonzero(outside))
        stats["mismatches"] = bad
        allowed = math.floor(criteria.max_mismatch * n)
        if bad > allowed:
            pct = 100.0 * bad / max(n, 1)
            rep.failed.append(
                f"|a - r| <= atol + rtol*|r| (atol={_fmt(atol)}, rtol={_fmt(rtol)}): {bad}/{n} elements "
                f"({pct:.3g}%) outside, {allowed} allowed (max_mismatch={_fmt(criteria.max_mismatch)})"
            )
            need_atol = np.sort((abs_err - rtol * abs_r)[considered])
            need_rtol = np.sort(
                np.where(
                    abs_r > 0, (abs_err - atol) / np.where(abs_r > 0, abs_r, 1), np.where(abs_err > atol, np.inf, 0)
                )[considered]
            )
            if need_atol.size > allowed:
                pos = need_atol.size - 1 - allowed
                rep.would_pass.append(f"atol >= {_fmt(max(float(need_atol[pos]), 0.0))} (rtol={_fmt(rtol)})")
                rep.would_pass.append(f"rtol >= {_fmt(max(float(need_rtol[pos]), 0.0))} (atol={_fmt(atol)})")
                rep.loosen["atol"] = max(float(need_atol[pos]), 0.0)
            if nan_mismatch.any():
                rep.would_pass.append("nan='ignore' (NaN positions differ)")
                rep.loosen["nan"] = "ignore"
    elif nan_mismatch.any():
        rep.failed.append(f"NaN positions differ at {int(nan_mismatch.sum())} elements (nan='match')")
        rep.loosen["nan"] = "ignore"

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
    if criteria.top_k is not None:
        if agree is None:  # a regression head or a scalar: top-k does not apply to this output
            stats[f"top{k}_agreement"] = "n/a"
        elif agree < criteria.top_k_agreement:
            rows = round((1 - agree) * (a.size // a.shape[criteria.class_axis]))
            rep.failed.append(
                f"top-{k} agreement >= {_fmt(criteria.top_k_agreement)}: got {_fmt(agree)} ({rows} rows disagree)"
            )
            rep.would_pass.append(f"top_k_agreement <= {_fmt(agree)}")
            rep.loosen["top_k_agreement"] = agree

    if rep.failed:
        rep.ok = False
        where = outside if criteria.elementwise or nan_mismatch.any() else considered & (abs_err > 0)
        order = np.argsort(-np.where(where, abs_err, -1.0), axis=None, kind="stable")[
            : min(MAX_LISTED, int(where.sum()))
        ]
        for flat in order:
            ix = tuple(int(i) for i in np.unravel_index(int(flat), a.shape)) if a.ndim else ()
            rep.listed.append((ix, float(r[ix]), float(a[ix]), float(abs_err[ix]), float(rel_err[ix])))
    rep.stats = stats
    return rep


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
