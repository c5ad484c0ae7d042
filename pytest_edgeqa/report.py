"""Result records, the terminal summary, and the JSON / Markdown reports (plus merge and compare)."""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .files import write_atomic  # noqa: F401  the CLI and the plugin write reports with it

SCHEMA_VERSION = 2
SCHEMA_FILE = Path(__file__).with_name("report.schema.json")

# Every check ends in exactly one of these, the same in the terminal, JSON, Markdown and JUnit.
STATUSES = ("pass", "fail", "warn", "not-judged", "skip")
LABELS = {"pass": "PASS", "fail": "FAIL", "warn": "WARN", "not-judged": "NOT JUDGED", "skip": "SKIP"}
_FROM_OUTCOME = {"passed": "pass", "failed": "fail", "skipped": "skip"}  # reports of schema 1 had no status


# ------------------------------------------------------------------------------------------- records


def record(check: str, name: str, device: str, result: Any) -> dict[str, Any]:
    """A plain, JSON-able record of one check's result: key figures for tables, the rest as detail."""
    # Strict JSON: an infinite SNR (identical outputs) or a NaN figure becomes null, not Infinity / NaN,
    # which JSON has no words for (jq, JavaScript's JSON.parse and most readers reject them).
    detail = json.loads(json.dumps(result.to_dict(), default=_jsonable), parse_constant=lambda _: None)
    status = getattr(result, "status", None) or ("pass" if result.ok else "fail")
    if status not in STATUSES:
        raise ValueError(f"{check} result has status {status!r}; expected one of {', '.join(STATUSES)}")
    return {
        "check": check,
        "name": name,
        "device": device,
        "status": status,
        "ok": bool(result.ok),
        "figures": figures(check, result),
        "detail": detail,
    }


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, float) and value != value:
        return None
    return str(value)


def _num(value: Any) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if v == v and abs(v) != float("inf") else None


def _kld_figures(result: Any) -> dict[str, Any]:
    st = result.stats
    return {
        "mean_kld": _num(st.mean_kld),
        "mean_kld_low": _num(st.mean_kld_interval[0]),
        "mean_kld_high": _num(st.mean_kld_interval[1]),
        "p99_kld": _num(st.kld_percentiles.get("p99")),
        "max_kld": _num(st.kld_max),
        "same_top": _num(st.same_top),
        "same_top_low": _num(st.same_top_interval[0]),
        "same_top_high": _num(st.same_top_interval[1]),
        "ppl_base": _num(st.ppl_base),
        "ppl_q": _num(st.ppl_q),
        "ppl_ratio": _num(st.ppl_ratio),
        "ppl_ratio_low": _num(st.ppl_ratio_interval[0]),
        "ppl_ratio_high": _num(st.ppl_ratio_interval[1]),
        "tokens": st.tokens,
        "context": result.context,
        "windows": result.windows,
        "gate": result.budget.gate,
        "golden": result.golden,
        "action": result.action,
    }


def figures(check: str, result: Any) -> dict[str, Any]:
    if check == "accuracy":
        return {
            "metric": result.metric,
            "higher_is_better": result.higher_is_better,
            "original": _num(result.original.value),
            "optimized": _num(result.optimized.value),
            "drop": _num(result.drop),
            "drop_kind": result.drop_kind,
            "ci_low": _num(result.interval[0]),
            "ci_high": _num(result.interval[1]),
            "gate": result.gate,
            "samples": result.samples,
            "original_precision": result.original.precision,
            "optimized_precision": result.optimized.precision,
        }
    if check == "latency":
        setup = result.setup.get(result.subject, {})
        return {
            "mode": result.mode,
            "p50_ms": _num(result.optimized.median),
            "p90_ms": _num(result.optimized.p90),
            "original_p50_ms": _num(result.original.median) if result.original else None,
            "speedup": _num(result.speedup) if result.ratio else None,
            "ratio_high": _num(result.ratio_interval[1]) if result.ratio_interval else None,
            "fps": _num(result.fps.get(result.subject)) if result.fps else None,
            "precision": setup.get("precision"),
            "original_precision": result.setup.get("original", {}).get("precision") if result.original else None,
            "input_shapes": setup.get("shapes"),
            "static_shapes": setup.get("static_shapes"),
            "cv": _num(result.optimized.cv),
            "ratio_low": _num(result.ratio_interval[0]) if result.ratio_interval else None,
            "p50_ci_low": _num(result.median_interval[0]) if result.median_interval else None,
            "p50_ci_high": _num(result.median_interval[1]) if result.median_interval else None,
            # What was budgeted, and the value of each budgeted percentile (p99, p99.9, ...) beside p50/p90.
            "budgeted": list(result.budgets),
            **{
                key: _num(result.optimized.at(float(key[1:-3])))
                for key in result.budgets
                if key.startswith("p") and key.endswith("_ms") and key not in ("p50_ms", "p90_ms")
            },
            "cpu_pressure": _num(result.contention.get("pressure")),
            "cpu_pressure_source": result.contention.get("source"),
            "rounds": max(1, len(result.rounds)),
        }
    if check == "kld":
        return _kld_figures(result)
    if check == "llm_latency":
        from . import llm_latency_report

        return {k: _num(v) if isinstance(v, float) else v for k, v in llm_latency_report.figures(result).items()}
    if check == "generation":
        res = result.result
        return {
            "prompts": len(res.prompts),
            "max_new_tokens": result.budget.max_new_tokens,
            "exact_rate": _num(res.exact_rate),
            "min_first_divergence": res.min_first_divergence,
            "mean_divergent_fraction": _num(res.mean_divergent_fraction),
        }
    # parity: golden_check's (a golden, compared or recorded) or parity_check's (live, over its calls)
    outputs = _per_output(result.comparisons)
    cosines = [o["cosine"] for o in outputs.values() if o["cosine"] is not None]
    errors = [o["max_abs_error"] for o in outputs.values() if o["max_abs_error"] is not None]
    agreements = [o["top1_agreement"] for o in outputs.values() if o["top1_agreement"] is not None]
    return {
        "golden": result.golden,
        "action": result.action,
        "kind": result.kind,
        "min_cosine": min(cosines) if cosines else None,
        "max_abs_error": max(errors) if errors else None,
        "min_top1_agreement": min(agreements) if agreements else None,
        **({"calls": len(result.comparisons)} if result.action == "live" else {}),
        "outputs": outputs,
    }


def _per_output(comparisons: Iterable[Any]) -> dict[str, dict[str, Any]]:
    """Each output's worst figures over the comparisons, whether it held, and its criteria as applied."""
    worst = {"cosine": min, "max_abs_error": max, "top1_agreement": min}
    outputs: dict[str, dict[str, Any]] = {}
    for comparison in comparisons:
        for name, out in comparison.outputs.items():
            o = outputs.setdefault(name, {"ok": True, **dict.fromkeys(worst), "criteria": out.criteria.applied()})
            o["ok"] = o["ok"] and out.ok
            for key, pick in worst.items():
                value = _num(out.stats.get(key))
                if value is not None:
                    o[key] = value if o[key] is None else pick(o[key], value)
    return outputs


# ------------------------------------------------------------------------------------------- report


def environment(devices: Iterable[str]) -> dict[str, Any]:
    import importlib.metadata as md

    from .runtimes.host import cpu_features, cpu_name

    versions = {}
    for dist in ("pytest-edgeqa", "pytest", "numpy", "openvino", "openvino-genai", "onnxruntime", "nncf", "datasets", "evaluate"):
        try:
            versions[dist] = md.version(dist)
        except md.PackageNotFoundError:
            continue
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu": {"name": cpu_name(), "features": cpu_features(), "cores": os.cpu_count()},
        "devices": list(devices),
        "versions": versions,
        "ci": bool(os.environ.get("CI")),
    }


def status_of(r: Mapping[str, Any]) -> str:
    """A record's one status: its check's own, else (a schema-1 report) its test's outcome."""
    return str(r.get("status") or _FROM_OUTCOME.get(str(r.get("outcome")), "fail"))


def counts(records: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """How many records ended in each status, in the order of ``STATUSES``."""
    found = [status_of(r) for r in records]
    return {s: found.count(s) for s in STATUSES if s in found}


def build(records: list[dict[str, Any]], env: dict[str, Any], started: float) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "duration_s": round(time.time() - started, 3),
        "environment": env,
        "summary": counts(records),
        "results": sorted(records, key=lambda r: (r["nodeid"], r["check"])),
    }


def schema() -> dict[str, Any]:
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


# ------------------------------------------------------------------------------------------- text


def _f(value: Any, fmt: str = ".4g") -> str:
    return "-" if value is None else format(value, fmt)


def describe(r: Mapping[str, Any]) -> str:
    """The figures of one record in a few words."""
    f = r["figures"]
    if not f:
        return str(r.get("detail", {}).get("reason", ""))
    if r["check"] == "accuracy":
        kind = "rel" if f["drop_kind"] == "relative" else "abs"
        return (
            f"{f['metric']} {_f(f['original'])} -> {_f(f['optimized'])}, drop {_f(f['drop'], '+.4f')} {kind} "
            f"[{_f(f['ci_low'], '+.3f')}, {_f(f['ci_high'], '+.3f')}] {f['original_precision']}/{f['optimized_precision']}"
        )
    if r["check"] == "latency":
        from .contention import CONTENDED

        keys = ["p50_ms", "p90_ms"] + [k for k in f.get("budgeted", ()) if k in f and k not in ("p50_ms", "p90_ms")]
        text = ", ".join(f"{k[:-3]} {_f(f[k])} ms" for k in keys)
        if f.get("speedup"):
            text += f", speedup {_f(f['speedup'], '.2f')}x"
            if r.get("status") == "not-judged" and f.get("ratio_low") and f.get("ratio_high"):
                text += f" [{1 / f['ratio_high']:.2f}x, {1 / f['ratio_low']:.2f}x]"
        if f.get("fps"):
            text += f", {_f(f['fps'], ',.0f')}/s"
        text = f"{text} {f.get('precision') or ''}".rstrip()
        pressure = f.get("cpu_pressure")
        if pressure is not None and (pressure > CONTENDED or r.get("status") == "not-judged"):
            text += f", CPU pressure {pressure:.0%}"
        return text
    if r["check"] == "llm_latency":
        from . import llm_latency_report

        return llm_latency_report.describe(f)
    if r["check"] == "kld":
        return (
            f"mean KLD {_f(f['mean_kld'], '.4f')} (<= {_f(f['mean_kld_high'], '.4f')}), p99 {_f(f['p99_kld'], '.3f')}, "
            f"same top {_f(f['same_top'], '.1%')}, PPL {_f(f['ppl_base'], '.3f')} -> {_f(f['ppl_q'], '.3f')} "
            f"(x{_f(f['ppl_ratio'], '.4f')}) on {f['tokens']} tokens"
        )
    if r["check"] == "generation":
        first = f["min_first_divergence"]
        return (
            f"{_f(f['exact_rate'], '.0%')} of {f['prompts']} prompts alike for {f['max_new_tokens']} tokens"
            + (f", first divergence at token {first}" if first is not None else "")
        )
    return (
        f"cos {_f(f['min_cosine'], '.5f')}, max|d| {_f(f['max_abs_error'], '.3g')}, top1 {_f(f['min_top1_agreement'], '.3f')} "
        f"({f['kind']}, {_action(f)})"
    )


def _action(f: Mapping[str, Any]) -> str:
    """What a parity record compared: a golden's fate, or parity_check's live runs and how many."""
    if f["action"] != "live":
        return str(f["action"])
    calls = f.get("calls") or 0
    return f"live, {calls} call{'s' if calls != 1 else ''}"


def tally_text(summary: Mapping[str, int]) -> str:
    """How many checks ended in each status, in words: "8 pass, 1 fail, 9 skip"."""
    return ", ".join(f"{n} {LABELS.get(k, k).lower()}" for k, n in summary.items())


def verdict(r: Mapping[str, Any]) -> str:
    return LABELS[status_of(r)]


def terminal_lines(records: list[dict[str, Any]], width: int = 100) -> list[str]:
    """Per test (or suite): a line with its name, then one line per device and check with the verdict
    and the figures (original vs optimized, interval, latency, parity, precisions), within ``width``:
    a long reason wraps at a word onto indented lines instead of being cut."""
    import textwrap

    lines: list[str] = []
    column = max((len(verdict(r)) for r in records), default=4)
    for name in sorted({r["name"] for r in records}):
        lines.append(name if len(name) <= width else "..." + name[-(width - 3) :])
        for r in sorted((r for r in records if r["name"] == name), key=lambda r: (r["device"], r["check"])):
            head = f"  {verdict(r):<{column}} {r['device']:<10} {r['check']:<8} "
            indent = " " * min(len(head), width // 2)
            lines += textwrap.wrap(
                describe(r), width, initial_indent=head, subsequent_indent=indent, break_on_hyphens=False
            ) or [head.rstrip()]
    return lines


def markdown(report: Mapping[str, Any]) -> str:
    """A summary for a pull-request comment: one table per check kind, a row per model and device."""
    env = report.get("environment", {})
    out = ["## pytest-edgeqa", ""]
    tally = tally_text(report.get("summary", {}))
    devices = ", ".join(env.get("devices", [])) or "-"
    out.append(
        f"{tally} on {devices} ({env.get('cpu', {}).get('name', '?')}, OpenVINO {env.get('versions', {}).get('openvino', '?')}, ONNX Runtime {env.get('versions', {}).get('onnxruntime', '?')})"
    )
    results = report.get("results", [])
    headers = {
        "accuracy": ["test", "device", "metric", "original", "optimized", "drop", "95% CI", "precision", ""],
        "latency": ["test", "device", "p50 ms", "p90 ms", "speedup", "samples/s", "precision", ""],
        "parity": ["test", "device", "min cosine", "max abs error", "top-1", "golden", ""],
        "kld": ["test", "device", "mean KLD", "p99 KLD", "same top", "PPL", "PPL ratio", "tokens", "golden", ""],
        "generation": ["test", "device", "prompts", "exact", "first divergence", "tokens differing", ""],
        "llm_latency": ["test", "device", "TTFT ms", "TPOT ms", "tokens/s", "speedup", "peak RSS MiB", "size MiB", ""],
    }
    icon = {"PASS": "✅", "FAIL": "❌", "WARN": "⚠️ WARN", "NOT JUDGED": "❔ NOT JUDGED", "SKIP": "⏭️"}
    for check, cols in headers.items():
        rows = [r for r in results if r["check"] == check]
        if not rows:
            continue
        out += ["", f"### {check}", "", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        for r in sorted(rows, key=lambda r: (r["name"], r["device"])):
            f = r["figures"]
            mark = icon.get(verdict(r), verdict(r))
            if not f:  # skipped: say why in the first figure column
                cells = [str(r.get("detail", {}).get("reason", "")).replace("|", "/")] + [""] * (len(cols) - 4)
            else:
                cells = _cells(check, f)
            out.append("| " + " | ".join([f"`{r['name']}`", r["device"], *cells, mark]) + " |")
    return "\n".join(out) + "\n"


def _cells(check: str, f: Mapping[str, Any]) -> list[str]:
    """The figure cells of one row of a check's Markdown table."""
    if check == "accuracy":
        return [
            f["metric"],
            _f(f["original"]),
            _f(f["optimized"]),
            _f(f["drop"], "+.4f"),
            f"[{_f(f['ci_low'], '+.4f')}, {_f(f['ci_high'], '+.4f')}]",
            f"{f['original_precision']} → {f['optimized_precision']}",
        ]
    if check == "latency":
        return [
            _f(f["p50_ms"]),
            _f(f["p90_ms"]),
            _f(f.get("speedup"), ".2f"),
            _f(f.get("fps"), ",.0f"),
            str(f.get("precision") or "-"),
        ]
    if check == "kld":
        return [
            f"{_f(f['mean_kld'], '.5f')} [{_f(f.get('mean_kld_low'), '.5f')}, {_f(f['mean_kld_high'], '.5f')}]",
            _f(f["p99_kld"], ".4f"),
            f"{_f(f['same_top'], '.2%')} (≥ {_f(f['same_top_low'], '.2%')})",
            f"{_f(f['ppl_base'], '.3f')} → {_f(f['ppl_q'], '.3f')}",
            f"{_f(f['ppl_ratio'], '.4f')} (≤ {_f(f['ppl_ratio_high'], '.4f')})",
            str(f["tokens"]),
            f"`{f['golden']}` ({f['action']})",
        ]
    if check == "llm_latency":
        from . import llm_latency_report

        return llm_latency_report.cells(f)
    if check == "generation":
        first = f["min_first_divergence"]
        return [
            f"{f['prompts']} × {f['max_new_tokens']} tokens",
            _f(f["exact_rate"], ".0%"),
            "-" if first is None else f"token {first}",
            _f(f["mean_divergent_fraction"], ".1%"),
        ]
    return [
        _f(f["min_cosine"], ".5f"),
        _f(f["max_abs_error"], ".3g"),
        _f(f["min_top1_agreement"], ".3f"),
        f"`{f['golden']}` ({f['action']})" if f["golden"] else _action(f),
    ]


# ------------------------------------------------------------------------------------------ matrix


def load(path: Path) -> dict[str, Any]:
    """A report from disk (schema 1 or 2: a schema-1 result gets its status from its test's outcome)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SystemExit(f"{path}: not a readable edgeqa report ({exc})") from None
    if not isinstance(data, dict) or data.get("schema_version") not in (1, SCHEMA_VERSION):
        raise SystemExit(f"{path}: not an edgeqa report of schema version 1 or {SCHEMA_VERSION}")
    if not isinstance(data.get("results"), list) or not all(isinstance(r, dict) for r in data["results"]):
        raise SystemExit(f"{path}: 'results' is not a list of result records")
    for r in data["results"]:
        r.setdefault("status", status_of(r))
    data["summary"] = counts(data["results"])
    data["schema_version"] = SCHEMA_VERSION
    return data


def merge(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """One report of several (one per CI job / device): results concatenated, environments kept."""
    results: list[dict[str, Any]] = []
    envs: list[dict[str, Any]] = []
    for rep in reports:
        results += rep["results"]
        envs.append(rep["environment"])
    devices = sorted({d for e in envs for d in e.get("devices", [])})
    merged_env = {**envs[0], "devices": devices, "jobs": envs} if envs else {}
    return {
        "schema_version": SCHEMA_VERSION,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "duration_s": round(sum(r.get("duration_s", 0.0) for r in reports), 3),
        "environment": merged_env,
        "summary": counts(results),
        "results": sorted(results, key=lambda r: (r["nodeid"], r["device"], r["check"])),
    }


def matrix_lines(report: Mapping[str, Any]) -> list[str]:
    """Model x device table: one cell per (name, device), the verdicts of its checks."""
    results = report.get("results", [])
    devices = sorted({r["device"] for r in results})
    names = sorted({r["name"] for r in results})
    cells = {
        (name, d): " ".join(
            f"{r['check'][:3]}:{verdict(r).replace(' ', '-')}"
            for r in results
            if r["name"] == name and r["device"] == d
        )
        or "-"
        for name in names
        for d in devices
    }
    width = max([len(n) for n in names] + [4])
    cols = {d: max([len(d)] + [len(cells[n, d]) for n in names]) for d in devices}
    lines = [f"{'test':<{width}}  " + "  ".join(f"{d:<{cols[d]}}" for d in devices)]
    for name in names:
        lines.append(f"{name:<{width}}  " + "  ".join(f"{cells[name, d]:<{cols[d]}}" for d in devices))
    return [line.rstrip() for line in lines]


JUDGED = ("pass", "fail", "warn")  # the check ran and its evidence decided


def compare(
    baseline: Mapping[str, Any],
    current: Mapping[str, Any],
    *,
    accuracy: float,
    latency: float,
    parity: float,
    kld: float = 0.005,
    ppl_ratio: float = 0.01,
    same_top: float = 0.01,
    exact: float = 0.1,
    memory: float = 1.1,
    allow_lost: bool = False,
) -> tuple[list[str], list[str]]:
    """What moved between two reports, and which moves are regressions:

    - a check that passed (or warned) and now fails;
    - lost coverage: a check that was judged before and is skipped or absent now (unless ``allow_lost``);
    - an accuracy drop grown by more than ``accuracy`` whose current interval lies wholly above the
      baseline's drop (a move inside the evaluation's own noise is reported, not failed);
    - a p50 latency slower by more than the ratio ``latency`` even between the favourable ends of both
      runs' intervals (fast end now, slow end before), so noise within a run is not a regression;
    - a parity cosine lower by more than ``parity`` (deterministic: no interval needed);
    - a language model's mean KLD or PPL ratio grown by more than ``kld`` / ``ppl_ratio``, or its same-top
      rate fallen by more than ``same_top``, where the current interval lies wholly on the worse side of
      the baseline's figure;
    - a generation's exact rate fallen by more than ``exact`` (greedy decoding: no interval needed);
    - a language model's TPOT slower by more than ``latency`` between the intervals' favourable ends, or its
      peak memory grown by more than the ratio ``memory``."""
    limits = {"accuracy": accuracy, "latency": latency, "parity": parity, "kld": kld, "ppl_ratio": ppl_ratio}
    limits.update(same_top=same_top, exact=exact, memory=memory)
    key = lambda r: (r["nodeid"], r["check"], r["device"])  # noqa: E731
    base = {key(r): r for r in baseline.get("results", [])}
    now = {key(r): r for r in current.get("results", [])}
    moved: list[str] = []
    regressions: list[str] = []
    for k, r in now.items():
        b = base.get(k)
        label = f"{r['name']} [{r['device']}] {r['check']}"
        if b is None:
            moved.append(f"new      {label}: {verdict(r)}")
            continue
        sb, sc = status_of(b), status_of(r)
        if sb in ("pass", "warn") and sc == "fail":
            regressions.append(f"{label}: {'passed' if sb == 'pass' else 'warned'} before, fails now")
        elif sb in JUDGED and sc not in JUDGED:
            line = f"{label}: {verdict(b)} before, {verdict(r)} now"
            moved.append(line)
            if sc == "skip" and not allow_lost:
                regressions.append(f"{line} (lost coverage; --allow-lost accepts it)")
        if sb in JUDGED and sc in JUDGED:
            moved_line, regressed = _moved(r["check"], b["figures"], r["figures"], limits)
            if moved_line:
                moved.append(f"{label}: {moved_line}")
            if regressed:
                regressions.append(f"{label}: {moved_line} {regressed}")
    for k in sorted(set(base) - set(now)):
        b = base[k]
        line = f"gone     {b['name']} [{b['device']}] {b['check']} (was {verdict(b)})"
        moved.append(line)
        if status_of(b) in JUDGED and not allow_lost:
            regressions.append(f"{line}: lost coverage; --allow-lost accepts it")
    return moved, regressions


def _moved(check: str, fb: Mapping[str, Any], fc: Mapping[str, Any], limits: Mapping[str, float]) -> tuple[str, str]:
    """One check's move between two judged results: the line to print, and why it regressed ('' if not)."""
    accuracy, latency, parity = limits["accuracy"], limits["latency"], limits["parity"]
    if check == "kld":
        return _kld_moved(fb, fc, limits)
    if check == "llm_latency":
        from . import llm_latency_report

        return llm_latency_report.moved(fb, fc, latency, limits["memory"])
    if check == "generation" and fb.get("exact_rate") is not None and fc.get("exact_rate") is not None:
        delta = fb["exact_rate"] - fc["exact_rate"]
        line = f"exact rate {fb['exact_rate']:.0%} -> {fc['exact_rate']:.0%}"
        first = (fb.get("min_first_divergence"), fc.get("min_first_divergence"))
        if first != (None, None):
            line += ", first divergence " + " -> ".join("none" if t is None else f"token {t}" for t in first)
        return line, (f"(lower by {delta:.0%} > {limits['exact']:.0%})" if delta > limits["exact"] + 1e-12 else "")
    if check == "accuracy" and fb.get("drop") is not None and fc.get("drop") is not None:
        delta = fc["drop"] - fb["drop"]
        line = f"drop {fb['drop']:+.4f} -> {fc['drop']:+.4f} ({delta:+.4f})"
        low = fc.get("ci_low")
        if low is not None:
            line += f", now [{low:+.4f}, {fc.get('ci_high', float('nan')):+.4f}]"
        beyond_noise = low is None or low > fb["drop"]
        return line, (f"> {accuracy:g}" if delta > accuracy and beyond_noise else "")
    if check == "latency" and fb.get("p50_ms") and fc.get("p50_ms"):
        ratio = fc["p50_ms"] / fb["p50_ms"]
        line = f"p50 {fb['p50_ms']:.4g} -> {fc['p50_ms']:.4g} ms (x{ratio:.3f})"
        base_hi, cur_lo = fb.get("p50_ci_high"), fc.get("p50_ci_low")
        if base_hi and cur_lo:
            least = cur_lo / base_hi
            line += f", at least x{least:.3f} between the intervals"
        else:
            least = ratio  # a report without intervals: the point is all there is
        return line, (f"> x{latency:g}" if least > latency else "")
    if check == "parity" and fb.get("min_cosine") is not None and fc.get("min_cosine") is not None:
        delta = fb["min_cosine"] - fc["min_cosine"]
        line = f"cosine {fb['min_cosine']:.6f} -> {fc['min_cosine']:.6f}"
        return line, (f"(lower by {delta:.2g} > {parity:g})" if delta > parity else "")
    return "", ""


# A language model's figures compared between reports: (figure, label, format, limit key, whether higher is
# worse, the end of the current interval that must lie beyond the baseline's figure for a regression).
_KLD_MOVES = (
    ("mean_kld", "mean KLD", ".5f", "kld", True, "mean_kld_low"),
    ("ppl_ratio", "PPL ratio", ".4f", "ppl_ratio", True, "ppl_ratio_low"),
    ("same_top", "same top", ".2%", "same_top", False, "same_top_high"),
)


def _kld_moved(fb: Mapping[str, Any], fc: Mapping[str, Any], limits: Mapping[str, float]) -> tuple[str, str]:
    """Mean KLD, PPL ratio and same-top rate before and now, and which grew worse beyond their limit and
    beyond the current run's own interval."""
    parts, why = [], []
    for key, label, fmt, limit_key, up, end_key in _KLD_MOVES:
        b, c = fb.get(key), fc.get(key)
        if b is None or c is None:
            continue
        parts.append(f"{label} {b:{fmt}} -> {c:{fmt}}")
        worse, limit, end = (c - b) if up else (b - c), limits[limit_key], fc.get(end_key)
        beyond_noise = end is None or (end > b if up else end < b)
        if worse > limit and beyond_noise:
            why.append(f"{label} {'up' if up else 'down'} by {worse:{fmt}} > {limit:{fmt}}")
    return ", ".join(parts), (f"({'; '.join(why)})" if why else "")
