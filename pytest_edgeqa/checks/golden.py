"""The golden check behind the ``golden_check`` fixture and a suite's parity check: compile the models,
resolve the inputs, place the golden, compare (recording the result on the item either way)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .. import golden as store
from .. import golden_file, golden_paths
from ..parity_criteria import Spec
from ..session import GOLDEN
from .golden_compare import GoldenCheckFailed, GoldenPolicy, GoldenResult, GoldenTest, run_golden_check
from .inputs import declared_inputs
from .records import store_record


def run_golden(
    *,
    session: Any,
    item: Any,
    owner: str,
    base_dir: Path,
    marker: Any,
    device: Any,
    spec: Spec,
    inputs: Any = None,
    name: str | None = None,
    model: Any = None,
    seed: int = 0,
    batch: int = 4,
    columns: dict[str, str] | None = None,
    shapes: Mapping[str, Any] | None = None,
    dims: Mapping[str, Any] | None = None,
    where: str = "golden_check",
) -> GoldenResult:
    """The whole golden check for one item: compile the models, resolve inputs, place the golden,
    compare (recording the result on the item either way)."""
    __tracebackhide__ = True
    from ..inputs import inputs_per_model

    settings = session.settings
    config = marker.config()
    reference, forced = _reference(session, marker, base_dir, config)
    original_here, candidate, role = _models(session, marker, base_dir, device, config, model, forced)
    label = "the model given as model=" if role == "model" else f"the {role} model"
    declared = _declared(session, marker, base_dir, reference, original_here, candidate, role, label)
    per, info = inputs_per_model(
        inputs, declared, seed=seed, batch=batch, columns_map=columns, shapes=shapes, dims=dims, where=where
    )
    rel, read_rel = place_golden(item, settings.golden_dir, owner, name)
    suite = getattr(item, "suite", None)
    try:
        result = run_golden_check(
            root=settings.golden_dir,
            rel=rel,
            read_rel=read_rel,
            test=GoldenTest(owner=owner, device=device.id, name=name),
            inputs=per["the original model"],
            candidate_inputs=per.get(label),
            inputs_info=info,
            candidate=candidate,
            candidate_role=role,
            original_here=original_here,
            reference=reference,
            weights=session.weight_format(candidate),
            spec=spec,
            policy=GoldenPolicy(mode=settings.update_golden, force=settings.golden_force, ci=settings.ci),
            update_command=rerecord_command(item, device, settings),
            criteria_in=f"checks.parity of {suite.path.name}" if suite is not None else None,
        )
    except GoldenCheckFailed as failed:
        if failed.result is not None:
            store_record(item, "parity", getattr(item, "title", owner), device.id, failed.result)
        raise
    store_record(item, "parity", getattr(item, "title", owner), device.id, result)
    return result


def _models(
    session: Any, marker: Any, base_dir: Path, device: Any, config: Any, model: Any, forced: bool
) -> tuple[Any, Any, str]:
    """The original compiled for ``device`` and the candidate compared with the golden: the model given
    as model=, else the optimized model, else the original itself; with the candidate's role."""
    __tracebackhide__ = True
    if forced:  # the declared precision runs nowhere here: the live original runs at f32 like the reference
        original_here = session.compile(
            marker.original,
            base_dir,
            device,
            config.with_(precision="f32"),
            what=f"edge_model marker original={marker.original!r}",
        )
    else:
        original_here = session.compile_marked(marker, "original", base_dir, device, config)
    if model is not None:
        return original_here, model, "model"
    if marker.optimized is not None:
        return original_here, session.compile_marked(marker, "optimized", base_dir, device, config), "optimized"
    return original_here, original_here, "original"


def _declared(
    session: Any,
    marker: Any,
    base_dir: Path,
    reference: Any,
    original_here: Any,
    candidate: Any,
    role: str,
    label: str,
) -> dict[str, tuple[Any, ...]]:
    """The inputs each model declares, by its ``label``: the original's, and the candidate's when it is
    another model (a model given as model= declares its own)."""
    declared = {"the original model": declared_inputs(session, marker, base_dir, "original", reference)}
    if candidate is not original_here:
        declared[label] = (
            candidate.inputs if role == "model" else declared_inputs(session, marker, base_dir, role, candidate)
        )
    return declared


def _reference(session: Any, marker: Any, base_dir: Path, config: Any) -> tuple[Any, bool]:
    """The original on edge_golden_device at its declared precision, and whether it was forced to f32: a
    device that cannot run that precision skips the check (NotHonoured), unless --update-golden
    --golden-force records at f32 anyway."""
    __tracebackhide__ = True
    from ..errors import ModelError, NotHonoured

    settings = session.settings
    device = settings.golden_device
    what = f"golden reference ({device.id})"
    try:
        return session.compile(marker.original, base_dir, device, config.with_(precision="reference"), what=what), False
    except ModelError as exc:  # e.g. an ONNX file OpenVINO cannot convert: ONNX Runtime may still read it
        other = "CPU" if device.runtime == "onnxruntime" else "ort:cpu"
        raise ModelError(
            f"{what}: {exc}. Goldens are recorded on --edge-golden-device (ini edge_golden_device); if another "
            f"runtime reads this model, record them there, e.g. --edge-golden-device={other}"
        ) from None
    except NotHonoured as exc:
        if settings.update_golden and settings.golden_force:
            return session.compile(marker.original, base_dir, device, config.with_(precision="f32"), what=what), True
        raise NotHonoured(
            f"{exc}. Goldens are recorded and compared at the model's declared precision: set --edge-golden-device (ini edge_golden_device) "
            "to a device that runs it, or record at f32 with --update-golden --golden-force"
        ) from None


def place_golden(item: Any, root: Path, owner: str, name: str | None) -> tuple[str, str]:
    """Where the item's golden is written and where it is read (its former name until re-recorded), both
    relative to the golden dir ``root`` and noted on the item for the reports."""
    __tracebackhide__ = True
    rel = golden_paths.golden_rel(owner, name)
    if not golden_paths.inside(root, rel):  # golden_rel never leaves the golden dir; this guards its callers' changes
        raise golden_file.GoldenError(f"golden path {rel!r} of test {owner!r} would lie outside the golden dir {root}")
    read_rel = _former_name(root, rel, owner, name)
    item.user_properties.append((GOLDEN, rel))
    if read_rel != rel:
        item.user_properties.append((GOLDEN, read_rel))
    return rel, read_rel


def _former_name(root: Path, rel: str, owner: str, name: str | None) -> str:
    """The golden to read: at ``rel``, or (until it is re-recorded) where an earlier version named it,
    when that file is this test's."""
    legacy = golden_paths.legacy_rel(owner, name)
    if legacy == rel or (root / rel).exists() or not (root / legacy).exists():
        return rel
    try:
        mine = golden_paths.belongs_to(store.owner_of(root / legacy), owner, name)
    except golden_file.GoldenError:
        return rel
    return legacy if mine else rel


def rerecord_command(item: Any, device: Any, settings: Any) -> str:
    """A command that re-records this item's golden, runnable as pasted from where pytest was started:
    the node id first (relative to that directory), then the flag, whose value is optional."""
    import shlex

    config = item.config
    _module, sep, rest = item.nodeid.partition("::")
    try:  # the file itself: its node id path may be empty or relative to an initial path (outside the rootdir)
        where = Path(os.path.relpath(item.path, config.invocation_params.dir)).as_posix()
    except ValueError:  # another drive (Windows)
        where = Path(item.path).as_posix()
    words = ["pytest", where + sep + rest]
    if settings.devices_source == "--edge-device":  # the node id names a device this command must ask for
        words.append(f"--edge-device={device.id}")
    words.append("--update-golden")
    return " ".join(shlex.quote(w) for w in words)
