"""Parity criteria: what must hold per output, validated from the parity marker, and the defaults by precision."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from .config import short
from .errors import ConfigError


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
