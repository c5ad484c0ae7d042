"""The live parity check behind ``parity_check``: optimized vs original, both run on one device, on
given or generated inputs (property tests); each call noted on the item, stored as one record per device."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import EdgeQAError
from ..parity import Comparison, compare, render
from ..parity_criteria import kind_of
from ..session import LIVE_PARITY
from .inputs import declared_inputs
from .records import store_record

if TYPE_CHECKING:
    import numpy as np


class ParityMismatch(AssertionError):
    """parity_check found outputs that disagree; an AssertionError, so Hypothesis shrinks the input."""

    __module__ = "pytest_edgeqa.checks"  # where it is imported from, and how pytest spells it in a failure


@dataclass
class LiveParity:
    """parity_check's result in one test on one device, over all its calls (a Hypothesis test calls it
    once per example): failed if any call failed; the report shows each output's worst figures and the
    comparison of the last failing call (Hypothesis replays the minimal example last), else of the last."""

    kind: str
    calls: list[Comparison] = field(default_factory=list)
    golden: None = None  # the same figures as golden_check's records: there is no golden here
    action: str = "live"

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.calls)

    @property
    def comparisons(self) -> list[Comparison]:
        return self.calls

    def shown(self) -> Comparison:
        return next((c for c in reversed(self.calls) if not c.ok), self.calls[-1])

    def to_dict(self) -> dict[str, Any]:
        return {
            "golden": None,
            "action": self.action,
            "kind": self.kind,
            "ok": self.ok,
            "calls": len(self.calls),
            "failed_calls": sum(not c.ok for c in self.calls),
            "comparisons": [self.shown().to_dict()],
        }


def note_parity(item: Any, device: str, kind: str, comparison: Comparison) -> None:
    """Add one parity_check call to the item's LiveParity for ``device`` (stored as a record when the
    test's call phase ends: see ``store_live_parity``)."""
    runs = item.stash.setdefault(LIVE_PARITY, {})
    runs.setdefault(device, LiveParity(kind=kind)).calls.append(comparison)


def store_live_parity(item: Any, name: str) -> None:
    """The item's parity_check results as ``parity`` records, one per device, like golden_check's."""
    for device, live in item.stash.get(LIVE_PARITY, {}).items():
        store_record(item, "parity", name, device, live)
    item.stash[LIVE_PARITY] = {}


def parity_inputs(
    session: Any, marker: Any, base_dir: Path, models: dict[str, Any], inputs: Any, **generate: Any
) -> dict[str, dict[str, np.ndarray]]:
    """parity_check's inputs for each model: those it declares, from what was given or generated
    (``generate``: seed, batch, shapes, dims)."""
    from ..inputs import inputs_per_model

    declared = {f"the {role} model": declared_inputs(session, marker, base_dir, role, m) for role, m in models.items()}
    return inputs_per_model(inputs, declared, where="parity_check", **generate)[0]


def run_parity(
    *,
    session: Any,
    marker: Any,
    base_dir: Path,
    device: Any,
    parity_args: tuple[Any, Any],
    inputs: Any,
    item: Any = None,
    generate: dict[str, Any] | None = None,
) -> Comparison:
    """Optimized vs original, both live on ``device``, on ``inputs`` (no golden): property tests. The
    result of each call is noted on ``item`` for the reports. ``generate`` (seed, batch, shapes, dims)
    sizes inputs generated when ``inputs`` is None."""
    __tracebackhide__ = True
    from ..parity_criteria import spec_from_marker

    if marker.optimized is None:
        raise EdgeQAError("parity_check: the edge_model marker has no 'optimized' model to compare with the original")
    spec = spec_from_marker(*parity_args)
    config = marker.config()
    original = session.compile_marked(marker, "original", base_dir, device, config)
    optimized = session.compile_marked(marker, "optimized", base_dir, device, config)
    kind = kind_of(optimized.info.precision, session.weight_format(optimized))
    models = {"optimized": optimized, "original": original}
    own = parity_inputs(session, marker, base_dir, models, inputs, **(generate or {}))
    result = compare(
        optimized.infer(own["the optimized model"]),
        original.infer(own["the original model"]),
        spec,
        kind,
        f"optimized ({device.id}, {optimized.info.precision}) vs original ({original.info.precision})",
    )
    if item is not None:
        note_parity(item, device.id, kind, result)
    if not result.ok:
        raise ParityMismatch("\n".join(render(result)))
    return result
