"""The golden check behind the ``golden_check`` fixture: record from the reference, compare, explain."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import golden as store
from .errors import EdgeQAError
from .parity import Comparison, compare, render
from .parity_criteria import DEFAULTS, Spec, kind_of
from .session import GOLDEN, LIVE_PARITY, RESULTS

if TYPE_CHECKING:
    import numpy as np

    from .runtimes import CompiledModel


def store_record(item: Any, check: str, name: str, device: str, result: Any) -> None:
    """Keep a check's result on the item (it travels to the controller on the report) and put its key
    figures in user_properties, which --junitxml writes as properties."""
    from .report import record

    rec = record(check, name, device, result)
    item.stash.setdefault(RESULTS, []).append(rec)
    item.user_properties.append((f"edgeqa.{check}.status", rec["status"]))
    for key, value in rec["figures"].items():
        if isinstance(value, (int, float, str)) and not isinstance(value, bool):
            item.user_properties.append((f"edgeqa.{check}.{key}", value))


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
    from . import data

    settings = session.settings
    config = marker.config()
    reference, forced = _reference(session, marker, base_dir, config)
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
        candidate, role = model, "model"
    elif marker.optimized is not None:
        candidate, role = session.compile_marked(marker, "optimized", base_dir, device, config), "optimized"
    else:
        candidate, role = original_here, "original"
    declared = {"the original model": declared_inputs(session, marker, base_dir, "original", reference)}
    label = "the model given as model=" if role == "model" else f"the {role} model"
    if candidate is not original_here:
        declared[label] = (
            candidate.inputs if role == "model" else declared_inputs(session, marker, base_dir, role, candidate)
        )
    per, info = data.inputs_per_model(
        inputs, declared, seed=seed, batch=batch, columns_map=columns, shapes=shapes, dims=dims, where=where
    )
    arrays = per["the original model"]
    root = settings.golden_dir
    rel = store.golden_rel(owner, name)
    if not store.inside(root, rel):  # golden_rel never leaves the golden dir; this guards its callers' changes
        raise store.GoldenError(f"golden path {rel!r} of test {owner!r} would lie outside the golden dir {root}")
    read_rel = _former_name(root, rel, owner, name)
    item.user_properties.append((GOLDEN, rel))
    if read_rel != rel:
        item.user_properties.append((GOLDEN, read_rel))
    suite = getattr(item, "suite", None)
    try:
        result = run_golden_check(
            root=root,
            rel=rel,
            read_rel=read_rel,
            test=GoldenTest(owner=owner, device=device.id, name=name),
            inputs=arrays,
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


def declared_inputs(session: Any, marker: Any, base_dir: Path, role: str, compiled: Any) -> tuple[Any, ...]:
    """The ``role`` model's input specs with the dimension symbols its ONNX file declares (OpenVINO reports
    every dynamic dim as "?"), so dims= names them on every runtime. An IR (a recipe's output) declares
    none: its original's ONNX file names them, input by input (with_symbols skips a name or rank that differs)."""
    from . import data

    declared: dict[str, tuple[Any, ...]] = {}
    for which in dict.fromkeys((role, "original")):
        try:
            given = marker.original if which == "original" else marker.optimized
            path = session.store.model(given, base_dir, which).path
        except Exception:  # a model that compiled is readable; this only names its dims
            continue
        declared = data.declared_shapes(path)
        if declared or Path(path).suffix.lower() == ".onnx":
            break
    return data.with_symbols(compiled.inputs, declared)


def _reference(session: Any, marker: Any, base_dir: Path, config: Any) -> tuple[Any, bool]:
    """The original on edge_golden_device at its declared precision, and whether it was forced to f32: a
    device that cannot run that precision skips the check (NotHonoured), unless --update-golden
    --golden-force records at f32 anyway."""
    __tracebackhide__ = True
    from .errors import ModelError, NotHonoured

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


def _former_name(root: Path, rel: str, owner: str, name: str | None) -> str:
    """The golden to read: at ``rel``, or (until it is re-recorded) where an earlier version named it,
    when that file is this test's."""
    legacy = store.legacy_rel(owner, name)
    if legacy == rel or (root / rel).exists() or not (root / legacy).exists():
        return rel
    try:
        mine = store.belongs_to(store.owner_of(root / legacy), owner, name)
    except store.GoldenError:
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


def _claimed_by(path: Path) -> dict[str, Any] | None:
    """The manifest's ``test`` entry of an existing golden: embedded, else the readable copy (a corrupt
    .npz may still say whose it was); None when neither can be read."""
    import json

    try:
        return store.owner_of(path)
    except store.GoldenError:
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

    existing: store.Golden | None = None
    stale: list[str] = []
    if source.exists():
        other = _claimed_by(source)
        if other is not None and not store.belongs_to(other, test.owner, test.name):
            raise GoldenCheckFailed(_not_yours(source, other, test))
        try:
            existing = store.read(source)
        except store.GoldenError as exc:
            if policy.mode not in ("failing", "all") or source.read_bytes()[:100].startswith(store.LFS_SIGNATURE):
                raise
            stale.append(str(exc))
    if existing is not None:
        stale.extend(existing.problems)
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

    action = "compared"
    if store.update_allowed(policy.mode, existing is not None, bool(stale)):
        refusal = _refusal(policy, reference)
        if refusal:
            raise GoldenCheckFailed(f"golden {path}: {refusal}")
        manifest = _manifest(test, inputs_sha, inputs_info, reference, spec, kind_of(candidate.info.precision, weights))
        had = existing is not None
        existing = store.write(path, ref_out, manifest, root=root)
        action = "re-recorded" if had else "recorded"
        stale = []
        source = path
    elif existing is None:
        raise GoldenCheckFailed(
            f"golden {path} does not exist; record it from the original model ({reference.info.device}, "
            f"{reference.info.precision}) with:\n    {update_command}=new"
        )

    kind = kind_of(candidate.info.precision, weights)
    cand_out = candidate.infer(inputs if candidate_inputs is None else candidate_inputs)
    live_ref = ref_out if original_here is reference else original_here.infer(inputs)
    here = candidate.info.device
    result = GoldenResult(golden=source.relative_to(root).as_posix(), action=action, kind=kind)
    result.comparisons.append(
        compare(
            cand_out, existing.outputs, spec, kind, f"{candidate_role} ({here}, {candidate.info.precision}) vs golden"
        )
    )
    if original_here is not reference:  # on the reference device the live original *is* the golden's source
        result.comparisons.append(
            compare(
                cand_out,
                live_ref,
                spec,
                kind,
                f"{candidate_role} ({here}) vs original run live ({here}, {original_here.info.precision})",
            )
        )
    if stale:
        lines = [f"golden {source} is stale:"] + [f"  {s}" for s in stale]
        raise GoldenCheckFailed(
            "\n".join([*lines, f"If the change was intended, re-record the golden:\n    {update_command}"])
        )
    if not result.ok:
        from .runtimes import batch_of

        samples = batch_of(inputs)
        lines = [f"parity failed against golden {source} ({samples} samples; {role_kind(candidate_role, kind)})"]
        for cmp in result.comparisons:
            lines += render(cmp)
        # What a re-record would write is the reference's output now: does the candidate pass against it?
        rerecorded = compare(cand_out, ref_out, spec, kind, "candidate vs a re-recorded golden")
        if rerecorded.ok and all(c.ok for c in result.comparisons[1:]):
            lines.append(f"If the change was intended, re-record the golden:\n    {update_command}")
        else:
            references = [existing.outputs, ref_out] + ([live_ref] if original_here is not reference else [])
            lines += _tolerance_advice(spec, kind, cand_out, references, criteria_in)
        raise GoldenCheckFailed("\n".join(lines), result)
    return result


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


def _tolerance_advice(
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
    import math
    from dataclasses import replace

    wanted: dict[str | None, dict[str, Any]] = {}  # output named in outputs= (None: the top level) -> values
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


def role_kind(role: str, kind: str) -> str:
    return f"{role} model is {kind}" if kind != "f32" else f"{role} model is f32"


def _refusal(policy: GoldenPolicy, reference: CompiledModel) -> str | None:
    if policy.ci and not policy.force:
        return "refusing to write goldens because the CI environment variable is set; goldens are recorded on purpose, not by CI (add --golden-force to do it anyway)"
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
    from . import __version__

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


# ------------------------------------------------------------------------------------------ accuracy


def run_accuracy_check(
    *,
    session: Any,
    base_dir: Path,
    marker: Any,
    device: Any,
    budget: Any,
    data_source: Any,
    inputs_map: dict[str, str] | None,
    label: str,
    samples: int | None,
    preprocess: Any,
    split: str,
) -> Any:
    """Evaluate the original (once per session and device) and the optimized model on the same
    samples, bootstrap the paired drop, and judge it against the budget."""
    __tracebackhide__ = True

    from . import data
    from .accuracy import (
        AccuracyResult,
        Side,
        batch_size_for,
        bootstrap_drop,
        bootstrap_generic,
        judge,
        outputs_of,
        per_sample,
        require_finite_data,
        require_finite_outputs,
        signed_drop,
    )
    from .metrics import ExternalStatistic, resolve

    if marker.optimized is None:
        raise EdgeQAError("accuracy_check: the edge_model marker has no 'optimized' model to compare with the original")
    stat = resolve(budget.metric, "accuracy marker")
    higher = stat.higher_is_better if budget.higher_is_better is None else budget.higher_is_better
    throughput = marker.config().with_(hint="THROUGHPUT")
    original = session.compile_marked(marker, "original", base_dir, device, throughput)
    # Evaluation runs at a static batch, as benchmark_app does (see OpenVINOModel.infer_batched for why).
    throughput = throughput.with_(batch=batch_size_for(original, budget.batch_size, "the original"))
    original = session.compile_marked(marker, "original", base_dir, device, throughput)
    optimized = session.compile_marked(marker, "optimized", base_dir, device, throughput)
    mapping = inputs_map or {spec.name: spec.name for spec in original.inputs}
    unknown = sorted(set(mapping) - {s.name for s in original.inputs})
    if unknown:
        raise EdgeQAError(
            f"accuracy_check: inputs= names {', '.join(map(repr, unknown))}, which the model does not have (inputs: {', '.join(s.name for s in original.inputs)})"
        )
    columns = sorted({*mapping.values(), label})
    table, info = data.table(
        data_source, columns, samples=samples, preprocess=preprocess, base_dir=base_dir, split=split
    )
    inputs = {name: table[col] for name, col in mapping.items()}
    refs = table[label]
    require_finite_data(inputs, mapping, label, refs)

    def evaluate(model: Any, role: str) -> tuple[np.ndarray, dict[str, Any]]:
        return outputs_of(model, inputs, budget.batch_size, budget.output, f"{role} on {device.id}")

    key = (
        "accuracy",
        original.info.model_sha256,
        info["fingerprint"],
        info["rows"],
        device.id,
        original.info.precision,
        tuple(sorted(mapping.items())),
        label,
        budget.output,
        budget.batch_size,
    )
    orig_out, orig_timing = session.memo(key, lambda: evaluate(original, "original"))
    output = budget.output or original.outputs[0].name
    require_finite_outputs(orig_out, output, "original", f"{device.id}, {original.info.precision}")
    opt_out, opt_timing = evaluate(optimized, "optimized")
    output = budget.output or optimized.outputs[0].name
    require_finite_outputs(opt_out, output, "optimized", f"{device.id}, {optimized.info.precision}", orig_out)

    if isinstance(stat, ExternalStatistic):
        p_orig, p_opt = stat.predictions(orig_out), stat.predictions(opt_out)
        v_orig, v_opt = stat.fn(p_orig, refs), stat.fn(p_opt, refs)
        interval = bootstrap_generic(
            stat.fn,
            (p_orig, p_opt),
            refs,
            higher=higher,
            relative=budget.drop == "relative",
            confidence=budget.confidence,
            resamples=budget.resamples,
        )
        resamples = min(budget.resamples, 300)
    else:
        s_orig, s_opt = per_sample(stat, orig_out, refs), per_sample(stat, opt_out, refs)
        v_orig, v_opt = float(stat.value(s_orig.sum(0))), float(stat.value(s_opt.sum(0)))
        interval = bootstrap_drop(
            stat.value,
            s_orig,
            s_opt,
            higher=higher,
            relative=budget.drop == "relative",
            confidence=budget.confidence,
            resamples=budget.resamples,
        )
        resamples = budget.resamples
    drop = float(signed_drop(v_orig, v_opt, higher, budget.drop == "relative"))
    failed = judge(budget, higher, v_orig, v_opt, interval, drop)
    result = AccuracyResult(
        metric=stat.name,
        higher_is_better=higher,
        samples=len(refs),
        dataset=info,
        original=Side(
            v_orig, device.id, original.info.precision, orig_timing["samples_per_s"], original.info.to_dict()
        ),
        optimized=Side(
            v_opt, device.id, optimized.info.precision, opt_timing["samples_per_s"], optimized.info.to_dict()
        ),
        drop=drop,
        drop_kind=budget.drop,
        interval=interval,
        confidence=budget.confidence,
        resamples=resamples,
        gate=budget.gate,
        budget={k: v for k, v in vars(budget).items() if v is not None and k != "metric"},
        ok=not failed,
        failed=failed,
    )
    if failed and not isinstance(stat, ExternalStatistic):
        result.precision_note = _precision_share(
            session,
            base_dir,
            marker,
            device,
            throughput,
            original,
            stat,
            inputs,
            refs,
            v_orig,
            higher,
            budget,
            evaluate,
        )
    return result


def _precision_share(
    session: Any,
    base_dir: Path,
    marker: Any,
    device: Any,
    throughput: Any,
    original: Any,
    stat: Any,
    inputs: Any,
    refs: Any,
    v_orig: float,
    higher: bool,
    budget: Any,
    evaluate: Any,
) -> str | None:
    """How much of the drop the original already shows at the precision the optimized model runs at (the
    device's default, or the marker's ``precision=``), so a loss
    from running at bf16/f16 is not blamed on quantization."""
    from .accuracy import per_sample, signed_drop

    default = session.compile(
        marker.original, base_dir, device, throughput, what="original at the optimized model's precision"
    )
    if default.info.precision == original.info.precision:
        return f"the optimized model runs at the reference precision ({original.info.precision}), so the whole drop comes from the optimization"
    s = per_sample(stat, evaluate(default, f"original at {default.info.precision}")[0], refs)
    v = float(stat.value(s.sum(0)))
    share = float(signed_drop(v_orig, v, higher, budget.drop == "relative"))
    return (
        f"the original itself scores {v:.6g} at {default.info.precision} (the precision the optimized model runs at), a drop of "
        f"{share:+.6g} before any optimization"
    )


# ------------------------------------------------------------------------------------------- latency


def run_latency_check(
    *,
    session: Any,
    base_dir: Path,
    marker: Any,
    device: Any,
    budget: Any,
    inputs_source: Any,
    seed: int,
    shapes: Mapping[str, Any] | None = None,
    dims: Mapping[str, Any] | None = None,
    where: str = "latency_check",
    columns: dict[str, str] | None = None,
) -> Any:
    """Time the optimized model (and the original, interleaved, when there is one) and judge the budget.
    The original runs as it would ship without the optimization: at the device's default precision."""
    __tracebackhide__ = True
    from dataclasses import replace

    import numpy as np

    from . import data
    from .contention import Window
    from .latency import Round, latency_rounds, measure_and_judge, result_of, samples_needed

    config = marker.config().with_(hint=budget.hint, batch=budget.batch)
    roles = ["optimized"] if marker.optimized is not None else []
    if marker.optimized is None or budget.relative:
        roles.append("original")
    if budget.relative and marker.optimized is None:
        raise EdgeQAError(
            "latency marker: max_ratio/min_speedup compare with the optimized model, but the edge_model marker has none"
        )
    # The original is timed as it ships without the optimization: at the device's default precision.
    models = {role: session.compile_marked(marker, role, base_dir, device, config, reference=False) for role in roles}
    subject = "optimized" if "optimized" in models else "original"
    # Each model gets the inputs it declares (a variant may lack one, or take extra state), the subject's first.
    order = [subject] + [role for role in models if role != subject]
    per, _ = data.inputs_per_model(
        inputs_source,
        {f"the {role} model": declared_inputs(session, marker, base_dir, role, models[role]) for role in order},
        seed=seed,
        batch=budget.batch,
        columns_map=columns,
        shapes=shapes,
        dims=dims,
        where=where,
    )
    prepared = {role: m.prepare(per[f"the {role} model"]) for role, m in models.items()}
    # Timed as benchmark_app -shape times it: dynamic dims fixed to the shapes fed (OpenVINO runs a model
    # compiled with dynamic dims 10-30% slower than its static form); ONNX Runtime runs shapes as they come.
    configs = {role: config for role in models}
    for role, model in models.items():
        if any(spec.dynamic for spec in model.inputs):
            configs[role] = config.with_(shapes=tuple((n, tuple(a.shape)) for n, a in prepared[role].items()))
            models[role] = session.compile_marked(marker, role, base_dir, device, configs[role], reference=False)

    setup: dict[str, Any] = {}
    timers = {}
    for role, model in models.items():
        info = model.info
        model_file = session.store.model(marker.original if role == "original" else marker.optimized, base_dir, role)
        setup[role] = {
            "device": info.device,
            "execution_devices": list(info.execution_devices),
            "precision": info.precision,
            "hint": info.hint,
            "streams": info.extra.get("streams"),
            "threads": info.extra.get("threads"),
            "batch": budget.batch,
            "shapes": {name: list(array.shape) for name, array in prepared[role].items()},
            "static_shapes": all(not spec.dynamic for spec in model.inputs),
            **session.store.engine(device.runtime).compile_times(model_file, device, configs[role]),
        }
        timers[role] = model.timer(prepared[role])
        start = time.perf_counter()
        timers[role]()
        setup[role]["first_inference_ms"] = (time.perf_counter() - start) * 1000

    schedule = budget.schedule
    iterations = schedule.iterations
    if not schedule.iterations_given:
        iterations = max([iterations] + [samples_needed(p) for p, _ in budget.percentile_budgets()])
    paired = subject == "optimized" and "original" in models
    if budget.hint != "THROUGHPUT":
        next_round = latency_rounds(
            schedule, iterations, budget.block, timers[subject], timers["original"] if paired else None
        )
    else:
        rounds_done = 0

        def next_round() -> Round:
            """Throughput segments, interleaved when there are two models (warm-up: the first round only)."""
            nonlocal rounds_done
            sched = schedule if rounds_done == 0 else replace(schedule, warmup_iters=0, warmup_s=0.0)
            rounds_done += 1
            blocks = 6 if paired else 1
            per: dict[str, list[float]] = {role: [] for role in models}
            lat: dict[str, list[float]] = {role: [] for role in models}
            # The streams keep every core busy themselves: only other processes' CPU time counts.
            with Window(saturating=True) as window:
                for step in range(blocks):
                    for role in list(models) if step % 2 == 0 else list(reversed(models)):
                        rate, latencies = models[role].throughput(prepared[role], sched.seconds / blocks)
                        per[role].append(1000.0 / rate)  # ms per sample
                        lat[role].extend(latencies)
            return Round(
                subject=np.asarray(lat[subject]),
                contention=window.contention,
                original=np.asarray(lat["original"]) if paired else None,
                a_blocks=np.asarray(per["original"])[:, None] if paired else None,
                b_blocks=np.asarray(per["optimized"])[:, None] if paired else None,
                fps={role: 1000.0 / float(np.mean(per[role])) for role in models},
            )

    rounds, verdict = measure_and_judge(budget, next_round, subject)
    return result_of(budget, rounds, verdict, mode=session.settings.latency_mode, subject=subject, setup=setup)


def latency_schedule(settings: Any) -> Any:
    """The session's latency schedule: command line > ini > defaults (a marker may override it)."""
    from .latency import Schedule

    given = dict(settings.latency_schedule)
    return Schedule(**given, iterations_given="iterations" in given)


def conclude_latency(settings: Any, result: Any) -> None:
    """What a latency result does, by the status it settled on under --edge-latency: a failure, a
    LatencyWarning (warn), or a NOT JUDGED skip (enforce and warn; strict made it a failure)."""
    __tracebackhide__ = True
    import warnings

    from .latency import LatencyFailed, LatencyNotJudged, LatencyWarning

    if result.status == "pass":
        return
    if result.status == "warn":
        warnings.warn(LatencyWarning(result.render() + "\n(--edge-latency=warn: reported, not failed)"), stacklevel=3)
        return
    if result.status == "not-judged":
        raise LatencyNotJudged(result.not_judged_reason())
    raise LatencyFailed(result.render())


class ParityMismatch(AssertionError):
    """parity_check found outputs that disagree; an AssertionError, so Hypothesis shrinks the input."""


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
    from . import data

    declared = {f"the {role} model": declared_inputs(session, marker, base_dir, role, m) for role, m in models.items()}
    return data.inputs_per_model(inputs, declared, where="parity_check", **generate)[0]


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
    from .parity_criteria import spec_from_marker

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
