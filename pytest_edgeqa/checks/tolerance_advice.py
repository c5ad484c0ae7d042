"""When a candidate misses its tolerance against a fresh golden: the round criteria that would pass."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..parity import compare
from ..parity_criteria import DEFAULTS, Spec


def tolerance_advice(
    spec: Spec, kind: str, actual: Mapping[str, Any], references: Sequence[Mapping[str, Any]], criteria_in: str | None
) -> list[str]:
    """Re-recording cannot help (the golden is what the original gives today): say so, and show the
    round criteria that would pass, checked against every reference the candidate is compared with."""
    lines = [
        "The golden is fresh (the original still reproduces it), so re-recording it would not change this result: "
        "the candidate misses the tolerance."
    ]
    loosened = _loosened(spec, kind, actual, references)
    if loosened is None:
        lines.append("No change of tolerance alone makes it pass (see the failures above).")
    elif criteria_in is None:
        lines += ["If this difference is acceptable, loosen the parity marker to:", f"    {_marker_text(loosened)}"]
    else:
        lines += [
            f"If this difference is acceptable, loosen {criteria_in} to (keep samples and seed):",
            f"    parity: {_yaml_text(loosened)}",
        ]
    return lines


_LOWER_BOUNDS = ("cosine", "snr_db", "psnr_db", "top_k_agreement")


def _round_bound(key: str, value: float) -> float:
    """A round number on the passing side of ``value``: two significant digits of an upper bound (or of
    the gap below 1 of a cosine or an agreement), one decimal of a dB figure."""
    import math

    if key in ("snr_db", "psnr_db"):
        return math.floor(value * 10) / 10
    if key in ("cosine", "top_k_agreement"):
        gap = 1.0 - value
        if gap <= 0:
            return value
        digits = 1 - math.floor(math.log10(gap))
        return float(f"{math.floor(value * 10**digits) / 10**digits:.{digits}f}")
    if value <= 0:
        return 0.0
    digits = 1 - math.floor(math.log10(value))
    return float(f"{math.ceil(value * 10**digits) / 10**digits:.2g}")


def _loosened(spec: Spec, kind: str, actual: Mapping[str, Any], references: Sequence[Mapping[str, Any]]) -> Spec | None:
    """``spec`` with each failed criterion moved to a round value that holds against every reference, or
    None when no tolerance can fix it (missing outputs, shapes, dtypes)."""
    from dataclasses import replace

    wanted = _wanted(spec, kind, actual, references)
    if not wanted:
        return None
    rounded: dict[str | None, dict[str, Any]] = {
        target: {k: v if k == "nan" else _round_bound(k, v) for k, v in values.items()}
        for target, values in wanted.items()
    }
    default = spec.default
    if None in rounded:
        default = replace(spec.default if spec.default is not None else DEFAULTS[kind], **rounded[None])
    outputs = {n: replace(c, **rounded[n]) if n in rounded else c for n, c in spec.outputs.items()}
    loosened = Spec(default=default, outputs=outputs)
    return loosened if all(compare(actual, ref, loosened, kind, "").ok for ref in references) else None


def _wanted(
    spec: Spec, kind: str, actual: Mapping[str, Any], references: Sequence[Mapping[str, Any]]
) -> dict[str | None, dict[str, Any]] | None:
    """The values each failed criterion needs to hold against every reference, by the output named in
    outputs= (None: the top level); None when no tolerance can fix it."""
    import math

    wanted: dict[str | None, dict[str, Any]] = {}
    for ref in references:
        cmp = compare(actual, ref, spec, kind, "")
        if cmp.problems:
            return None
        for rep in cmp.outputs.values():
            if rep.ok:
                continue
            if rep.problems or not rep.loosen:
                return None
            values = wanted.setdefault(rep.name if rep.name in spec.outputs else None, {})
            for key, value in rep.loosen.items():
                if key != "nan" and not math.isfinite(value):
                    return None
                if key in values and key != "nan":
                    value = (min if key in _LOWER_BOUNDS else max)(values[key], value)
                values[key] = value
    return wanted


def _criteria_items(spec: Spec) -> list[tuple[str, Any]]:
    items: list[tuple[str, Any]] = list(spec.default.applied().items()) if spec.default is not None else []
    if spec.outputs:
        items.append(("outputs", {n: c.applied() for n, c in spec.outputs.items()}))
    return items


def _marker_text(spec: Spec) -> str:
    return "@pytest.mark.parity(" + ", ".join(f"{k}={v!r}" for k, v in _criteria_items(spec)) + ")"


def _yaml_text(spec: Spec) -> str:
    def flow(value: Any) -> str:
        if isinstance(value, dict):
            return "{" + ", ".join(f"{k}: {flow(v)}" for k, v in value.items()) + "}"
        return repr(value) if isinstance(value, float) else str(value)

    return flow(dict(_criteria_items(spec)))
