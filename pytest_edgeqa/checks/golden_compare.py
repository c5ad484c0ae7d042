"""Compare a candidate with its golden and with the original run live; record or re-record the golden
when the policy allows it; explain a stale golden or a mismatch."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import golden as store
from .. import golden_file, golden_paths
from ..errors import EdgeQAError
from ..parity import Comparison, compare, render
from ..parity_criteria import DEFAULTS, Spec, kind_of
from .tolerance_advice import tolerance_advice

if TYPE_CHECKING:
    import numpy as np

    from ..runtimes import CompiledModel


class GoldenCheckFailed(EdgeQAError):
    """The check ran and the model does not agree: the message is the full report."""

    def __init__(self, message: str, result: GoldenResult | None = None) -> None:
        super().__init__(message)
        self.result = result


@dataclass(frozen=True)
class GoldenPolicy:
    """How this session treats goldens: from --update-golden, --golden-force and the CI variable."""

    mode: str | None = None  # None | "failing" | "new" | "all"
    force: bool = False
    ci: bool = False


@dataclass(frozen=True)
class GoldenTest:
    """Whom a golden belongs to, as its manifest records it: the test (node id without the device), the
    device of the item that recorded it (so --golden-prune leaves other devices' goldens alone), its name."""

    owner: str
    device: str | None = None
    name: str | None = None

    def to_dict(self) -> dict[str, str]:
        d = {"owner": self.owner}
        if self.device is not None:
            d["device"] = self.device
        if self.name is not None:
            d["name"] = self.name
        return d


@dataclass
class GoldenResult:
    golden: str  # path relative to the golden dir
    action: str  # "compared" | "recorded" | "re-recorded"
    kind: str
    comparisons: list[Comparison] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.comparisons)

    def to_dict(self) -> dict[str, Any]:
        return {
            "golden": self.golden,
            "action": self.action,
            "kind": self.kind,
            "ok": self.ok,
            "comparisons": [c.to_dict() for c in self.comparisons],
        }


# Whether the live reference still reproduces its golden: f32 against f32, on possibly another machine.
_REFERENCE_DRIFT = Spec(default=DEFAULTS["f32"])


def run_golden_check(
    *,
    root: Path,
    rel: str,
    test: GoldenTest,
    inputs: dict[str, np.ndarray],
    inputs_info: dict[str, Any],
    candidate: CompiledModel,
    candidate_role: str,
    original_here: CompiledModel,
    reference: CompiledModel,
    weights: str | None,
    spec: Spec,
    policy: GoldenPolicy,
    update_command: str,
    read_rel: str | None = None,
    criteria_in: str | None = None,
    candidate_inputs: dict[str, np.ndarray] | None = None,
) -> GoldenResult:
    """Compare ``candidate`` with the golden at ``root/rel`` (or at its former name ``read_rel``) and with
    the original run live on the same device; record or re-record the golden at ``root/rel`` from
    ``reference`` when the policy allows it. Reading never writes; a file of another test is never used."""
    __tracebackhide__ = True
    path = root / rel
    source = root / (read_rel or rel)
    inputs_sha = store.arrays_sha256(inputs)
    ref_out = reference.infer(inputs)
    existing, stale = _read_existing(source, test, policy)
    if existing is not None:
        stale.extend(_stale_reasons(existing, inputs_sha, ref_out, reference))
    kind = kind_of(candidate.info.precision, weights)
    action = "compared"
    if store.update_allowed(policy.mode, existing is not None, bool(stale)):
        refusal = _refusal(policy, reference)
        if refusal:
            raise GoldenCheckFailed(f"golden {path}: {refusal}")
        manifest = _manifest(test, inputs_sha, inputs_info, reference, spec, kind)
        action = "re-recorded" if existing is not None else "recorded"
        existing = store.write(path, ref_out, manifest, root=root)
        stale, source = [], path
    elif existing is None:
        raise GoldenCheckFailed(
            f"golden {path} does not exist; record it from the original model ({reference.info.device}, "
            f"{reference.info.precision}) with:\n    {update_command}=new"
        )
    cand_out = candidate.infer(inputs if candidate_inputs is None else candidate_inputs)
    references = [existing.outputs, ref_out]  # the golden, and what a re-record would write now
    if original_here is not reference:  # on the reference device the live original *is* the golden's source
        references.append(original_here.infer(inputs))
    result = GoldenResult(golden=source.relative_to(root).as_posix(), action=action, kind=kind)
    result.comparisons += _comparisons(cand_out, references, spec, kind, candidate, candidate_role, original_here)
    if stale:
        raise GoldenCheckFailed(_stale_message(source, stale, update_command))
    if not result.ok:
        failure = _mismatch(
            result, source, inputs, cand_out, references, spec, candidate_role, update_command, criteria_in
        )
        raise GoldenCheckFailed(failure, result)
    return result


def _read_existing(source: Path, test: GoldenTest, policy: GoldenPolicy) -> tuple[store.Golden | None, list[str]]:
    """The golden at ``source`` (None: there is none) and what makes it stale so far: a file that cannot be
    read is stale when the policy re-records it (not a Git LFS pointer: that one wants fetching), else its
    error is raised. A file of another test is refused."""
    __tracebackhide__ = True
    if not source.exists():
        return None, []
    other = _claimed_by(source)
    if other is not None and not golden_paths.belongs_to(other, test.owner, test.name):
        raise GoldenCheckFailed(_not_yours(source, other, test))
    try:
        return store.read(source), []
    except golden_file.GoldenError as exc:
        if policy.mode not in ("failing", "all") or source.read_bytes()[:100].startswith(golden_file.LFS_SIGNATURE):
            raise
        return None, [str(exc)]


def _stale_reasons(existing: store.Golden, inputs_sha: str, ref_out: Mapping[str, Any], reference: Any) -> list[str]:
    """Why a readable golden no longer stands for the original on these inputs (nothing: it does)."""
    stale = list(existing.problems)
    recorded_inputs = existing.manifest.get("inputs", {}).get("sha256")
    if recorded_inputs != inputs_sha:
        stale.append(
            f"the inputs differ from those the golden was recorded with (sha256 {str(recorded_inputs)[:12]}… vs {inputs_sha[:12]}…)"
        )
    changed = _outputs_changed(ref_out, existing.outputs)
    drift = compare(
        ref_out,
        existing.outputs,
        _REFERENCE_DRIFT,
        "f32",
        f"original at reference precision ({reference.info.device}) vs golden",
    )
    if changed:
        stale.append(
            "the original model's outputs are not those the golden holds (the model changed, or the golden was "
            "edited or recorded from another model):\n" + "\n".join(f"  {c}" for c in changed)
        )
    elif not drift.ok:
        stale.append(
            "the original model no longer reproduces the golden (the model, runtime or machine changed):\n"
            + "\n".join(render(drift))
        )
    return stale


def _stale_message(source: Path, stale: list[str], update_command: str) -> str:
    lines = [f"golden {source} is stale:"] + [f"  {s}" for s in stale]
    return "\n".join([*lines, f"If the change was intended, re-record the golden:\n    {update_command}"])


def _comparisons(
    cand_out: Mapping[str, Any],
    references: Sequence[Mapping[str, Any]],
    spec: Spec,
    kind: str,
    candidate: Any,
    role: str,
    original_here: Any,
) -> list[Comparison]:
    """The candidate against the golden (``references[0]``) and, off the reference device, against the
    original run live there (``references[2]``)."""
    here = candidate.info.device
    found = [compare(cand_out, references[0], spec, kind, f"{role} ({here}, {candidate.info.precision}) vs golden")]
    if len(references) > 2:
        found.append(
            compare(
                cand_out,
                references[2],
                spec,
                kind,
                f"{role} ({here}) vs original run live ({here}, {original_here.info.precision})",
            )
        )
    return found


def _mismatch(
    result: GoldenResult,
    source: Path,
    inputs: Mapping[str, Any],
    cand_out: Mapping[str, Any],
    references: Sequence[Mapping[str, Any]],
    spec: Spec,
    role: str,
    update_command: str,
    criteria_in: str | None,
) -> str:
    """The failure report: each comparison, then the re-record command when a re-recorded golden (the
    reference's output now, ``references[1]``) would pass, else the tolerance that would."""
    from ..runtimes import batch_of

    kind = result.kind
    samples = batch_of(inputs)
    lines = [f"parity failed against golden {source} ({samples} samples; {role_kind(role, kind)})"]
    for cmp in result.comparisons:
        lines += render(cmp)
    rerecorded = compare(cand_out, references[1], spec, kind, "candidate vs a re-recorded golden")
    if rerecorded.ok and all(c.ok for c in result.comparisons[1:]):
        lines.append(f"If the change was intended, re-record the golden:\n    {update_command}")
    else:
        lines += tolerance_advice(spec, kind, cand_out, references, criteria_in)
    return "\n".join(lines)


def _claimed_by(path: Path) -> dict[str, Any] | None:
    """The manifest's ``test`` entry of an existing golden: embedded, else the readable copy (a corrupt
    .npz may still say whose it was); None when neither can be read."""
    import json

    try:
        return store.owner_of(path)
    except golden_file.GoldenError:
        pass
    try:
        test = json.loads(store.manifest_path(path).read_text(encoding="utf-8"))["test"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return test if isinstance(test, dict) else None


def _not_yours(path: Path, other: dict[str, Any], test: GoldenTest) -> str:
    def who(owner: Any, name: Any) -> str:
        return f"{owner!r}" + (f" (name={name!r})" if name is not None else "")

    return (
        f"golden {path} belongs to test {who(other.get('owner'), other.get('name'))}, not to {who(test.owner, test.name)}: "
        "two tests (or names) lead to one file, so it is neither compared with nor overwritten. If the file is this "
        "test's, move it aside and record again; otherwise give this golden another name= (or rename the test)"
    )


def _outputs_changed(model: Mapping[str, Any], golden: Mapping[str, Any]) -> list[str]:
    """How the original's outputs differ in name, shape or dtype from the golden's (nothing: comparable)."""

    def spelled(arr: Any) -> str:
        return f"{list(arr.shape)} {arr.dtype.name}"

    found = [
        f"the golden has no output {n!r} ({spelled(model[n])}), which the original gives"
        for n in model
        if n not in golden
    ]
    found += [
        f"the golden has output {n!r} ({spelled(golden[n])}), which the original no longer gives"
        for n in golden
        if n not in model
    ]
    found += [
        f"output {n!r} is {spelled(golden[n])} in the golden, {spelled(model[n])} from the original"
        for n in model
        if n in golden and (model[n].shape != golden[n].shape or model[n].dtype.kind != golden[n].dtype.kind)
    ]
    return found


def role_kind(role: str, kind: str) -> str:
    return f"{role} model is {kind}" if kind != "f32" else f"{role} model is f32"


def ci_refusal(policy: GoldenPolicy) -> str | None:
    """Why this session may not write goldens: CI is set (goldens are recorded on purpose, not by CI)."""
    if policy.ci and not policy.force:
        return "refusing to write goldens because the CI environment variable is set; goldens are recorded on purpose, not by CI (add --golden-force to do it anyway)"
    return None


def _refusal(policy: GoldenPolicy, reference: CompiledModel) -> str | None:
    refusal = ci_refusal(policy)
    if refusal:
        return refusal
    info = reference.info
    if info.precision != info.declared_precision and not policy.force:
        return (
            f"refusing to record from {info.device} at {info.precision}: goldens are recorded at the model's declared precision "
            f"({info.declared_precision}); set --edge-golden-device (ini edge_golden_device) to a device that can, or add --golden-force"
        )
    return None


def _manifest(
    test: GoldenTest, inputs_sha: str, inputs_info: dict[str, Any], reference: CompiledModel, spec: Spec, kind: str
) -> dict[str, Any]:
    from .. import __version__

    info = reference.info
    tolerances: dict[str, Any] = {}
    if spec.default is not None:
        tolerances["default"] = spec.default.applied()
    tolerances.update({f"outputs.{n}": c.applied() for n, c in spec.outputs.items()})
    if spec.default is None:
        tolerances["default"] = {"for": kind, **DEFAULTS[kind].applied()}
    return {
        "test": test.to_dict(),
        "inputs": {"sha256": inputs_sha, **inputs_info},
        "model": {"path": os.path.basename(info.model), "sha256": info.model_sha256},
        "recorded_with": {
            "runtime": info.runtime,
            "runtime_version": info.runtime_version,
            "device": info.device,
            "device_full_name": info.device_full_name,
            "execution_devices": list(info.execution_devices),
            "precision": info.precision,
        },
        "tolerances": tolerances,
        "plugin_version": __version__,
        **store.provenance(),
    }
