"""The HTML report's figures: one Plotly figure (data and layout, as plain JSON) per view of a result record.

Plotly.js, inlined in the page, draws them; this module only says what to draw from a record's figures and
detail, so a report of any age renders (a missing distribution falls back to the percentiles it has)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..report import _f

ORIGINAL, OPTIMIZED, BUDGET, INTERVAL = "#7f8c8d", "#1f77b4", "#d62728", "rgba(31,119,180,0.18)"


def figures_of(r: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The figures of one record: none for a record that did not run (skip) or a report without its data."""
    if not r.get("figures"):
        return []
    draw = {"latency": _latency, "accuracy": _accuracy, "parity": _parity, "kld": _kld, "llm_latency": _llm_latency}
    fn = draw.get(str(r["check"]))
    return [f for f in fn(r["figures"], r.get("detail") or {}) if f] if fn else []


def _layout(title: str, x: str, y: str, height: int = 260, **more: Any) -> dict[str, Any]:
    return {
        "title": {"text": title, "font": {"size": 13}, "x": 0.01},
        "height": height,
        "margin": {"l": 56, "r": 16, "t": 36, "b": 44},
        "xaxis": {"title": {"text": x}, "zeroline": False},
        "yaxis": {"title": {"text": y}, "zeroline": False},
        "legend": {"orientation": "h", "y": -0.25, "x": 0},
        "plot_bgcolor": "#fff",
        "paper_bgcolor": "#fff",
        **more,
    }


def _vline(x: float, label: str, color: str = BUDGET) -> dict[str, Any]:
    """A dashed vertical line across the plot at ``x``, labelled at its top (on log axes too)."""
    return {
        "type": "line", "x0": x, "x1": x, "yref": "paper", "y0": 0, "y1": 1, "line": {"color": color, "dash": "dash"},
        "label": {"text": label, "textposition": "end", "textangle": 0, "xanchor": "right", "yanchor": "bottom", "font": {"color": color, "size": 11}},
    }  # fmt: skip


def _hline(y: float, label: str, color: str, where: str = "end") -> dict[str, Any]:
    return {
        "type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": y, "y1": y, "line": {"color": color, "dash": "dash"},
        "label": {"text": label, "textposition": where, "yanchor": "bottom", "font": {"color": color, "size": 11}},
    }  # fmt: skip


# ------------------------------------------------------------------------------------------- latency


def _ecdf(stats: Mapping[str, Any] | None) -> tuple[list[float], list[float]]:
    """(ms, fraction at or below) of a side's distribution: its 201 percentiles, or (an older report)
    the few it kept."""
    if not stats:
        return [], []
    q = stats.get("quantiles") or []
    if q:
        return list(q), [i / (len(q) - 1) for i in range(len(q))]
    levels = {"min": 0.0, "median": 0.5, "p90": 0.9, "p95": 0.95, "p99": 0.99}
    points = [(float(stats[k]), p) for k, p in levels.items() if stats.get(k) is not None]
    return [x for x, _ in points], [p for _, p in points]


def _latency(f: Mapping[str, Any], d: Mapping[str, Any]) -> list[dict[str, Any]]:
    unit = d.get("unit", "ms")
    traces = []
    for side, color in (("original", ORIGINAL), ("optimized", OPTIMIZED)):
        x, y = _ecdf(d.get(side))
        if x:
            name = side if d.get("subject", "optimized") == "optimized" or side == "original" else d["subject"]
            traces.append(
                {
                    "type": "scatter", "mode": "lines", "line": {"shape": "hv", "color": color, "width": 2},
                    "x": x, "y": y, "name": f"{name} ({d[side].get('count', '?')} runs)",
                    "hovertemplate": "%{x:.4g} " + unit + ": %{y:.1%} of runs<extra>" + name + "</extra>",
                }
            )  # fmt: skip
    if not traces:
        return []
    shapes = [
        _vline(value, f"{key[:-3]} budget {value:g} {unit}")
        for key, value in (d.get("budgets") or {}).items()
        if key.endswith("_ms") and isinstance(value, (int, float))
    ]
    title = f"latency ECDF ({f.get('mode', 'latency')} mode)"
    if f.get("speedup") and f.get("ratio_low") and f.get("ratio_high"):
        title += f": speedup {f['speedup']:.2f}x, 95% CI [{1 / f['ratio_high']:.2f}x, {1 / f['ratio_low']:.2f}x]"
    layout = _layout(title, f"latency per inference ({unit})", "fraction of runs at or below", shapes=shapes)
    layout["yaxis"]["tickformat"] = ".0%"
    layout["xaxis"].update(
        _span([*(t["x"][0] for t in traces), *(s["x0"] for s in shapes)], [_p99(t["x"]) for t in traces])
    )
    out = [{"data": traces, "layout": layout}]
    ratio = _ratio(f, d.get("budgets") or {})
    if ratio:
        out.append(ratio)
    return out


def _p99(xs: list[float]) -> float:
    return xs[min(len(xs) - 1, round(0.99 * (len(xs) - 1)))]


def _span(lows: list[float], highs: list[float]) -> dict[str, Any]:
    """The x axis of an ECDF: up to the slowest p99 and every budget (the tail stays a zoom away), on a log
    scale when that spans more than a decade and a half."""
    lo, hi = min(lows), max([*highs, *lows])
    if lo > 0 and hi / lo > 30:
        import math

        return {"type": "log", "range": [math.log10(lo) - 0.05, math.log10(hi) + 0.05]}
    return {"range": [max(0.0, lo - 0.05 * (hi - lo)), hi + 0.08 * (hi - lo)]}


def _ratio(f: Mapping[str, Any], budgets: Mapping[str, Any]) -> dict[str, Any] | None:
    """The optimized/original latency ratio with its interval, against a ratio budget (min_speedup is 1/ratio)."""
    if not (f.get("speedup") and f.get("ratio_low") and f.get("ratio_high")):
        return None
    ratio = 1 / f["speedup"]
    budget = budgets.get("max_ratio") or (1 / budgets["min_speedup"] if budgets.get("min_speedup") else None)
    fig = _interval_plot(
        "latency ratio optimized / original (lower is faster)",
        [("ratio", ratio, f["ratio_low"], f["ratio_high"], budget, "max")],
        "ratio",
    )
    fig["layout"]["shapes"] = [_vline(1.0, "", ORIGINAL)]  # same speed
    return fig


# ------------------------------------------------------------------------------------------ intervals


Row = tuple[str, Any, Any, Any, Any, str]  # label, value, low, high, budget (numbers or None), 'max' | 'min'


def _interval_plot(title: str, rows: list[Row], x: str) -> dict[str, Any]:
    """Each row (label, value, low, high, budget, 'max' or 'min'): a point with its interval, and its budget
    as a red tick (a 'max' budget holds left of it, a 'min' one right of it)."""
    data = []
    for label, value, lo, hi, budget, side in rows:
        err = None
        if lo is not None and hi is not None:
            err = {
                "type": "data",
                "symmetric": False,
                "array": [hi - value],
                "arrayminus": [value - lo],
                "color": OPTIMIZED,
            }
        data.append(
            {
                "type": "scatter", "mode": "markers", "x": [value], "y": [label], "name": label, "showlegend": False,
                "marker": {"color": OPTIMIZED, "size": 10}, **({"error_x": err} if err else {}),
                "hovertemplate": f"{label} %{{x:.5g}}" + (f" [{lo:.5g}, {hi:.5g}]" if err else "") + "<extra></extra>",
            }
        )  # fmt: skip
        if budget is not None:
            data.append(
                {
                    "type": "scatter", "mode": "markers+text", "x": [budget], "y": [label], "showlegend": False,
                    "marker": {"symbol": "line-ns-open", "size": 22, "color": BUDGET, "line": {"width": 3, "color": BUDGET}},
                    "text": [f"{side} {budget:.4g}"], "textposition": "top center", "textfont": {"color": BUDGET, "size": 11},
                    "hovertemplate": f"budget: {side} {budget:.5g}<extra></extra>",
                }
            )  # fmt: skip
    return {"data": data, "layout": _layout(title, x, "", height=90 + 40 * len(rows))}


def _accuracy(f: Mapping[str, Any], d: Mapping[str, Any]) -> list[dict[str, Any]]:
    if f.get("drop") is None:
        return []
    budget = (d.get("budget") or {}).get("max_drop")
    kind = "relative" if f.get("drop_kind") == "relative" else "absolute"
    title = (
        f"{f.get('metric')} drop ({kind}): {_f(f.get('original'))} -> {_f(f.get('optimized'))} "
        f"on {f.get('samples')} samples, gate {f.get('gate')}"
    )
    return [
        _interval_plot(title, [("drop", f["drop"], f.get("ci_low"), f.get("ci_high"), budget, "max")], f"{kind} drop")
    ]


# -------------------------------------------------------------------------------------------- parity


def _parity(f: Mapping[str, Any], d: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per output: where its absolute errors fall (each comparison a trace), with the atol criterion."""
    by_output: dict[str, list[tuple[str, Mapping[str, Any]]]] = {}
    for comparison in d.get("comparisons") or []:
        for name, out in (comparison.get("outputs") or {}).items():
            by_output.setdefault(name, []).append((comparison.get("label", ""), out))
    figs = []
    for name, outs in by_output.items():
        data = []
        for i, (label, out) in enumerate(outs):
            h = (out.get("stats") or {}).get("error_histogram") or {}
            if not h.get("counts"):
                continue
            # A step outline over the log-spaced bins (bars on a log axis would be drawn uneven).
            data.append(
                {
                    "type": "scatter", "mode": "lines", "x": h["edges"], "y": [*h["counts"], h["counts"][-1]],
                    "line": {"shape": "hv", "color": OPTIMIZED if i == 0 else ORIGINAL, "width": 1.5},
                    "fill": "tozeroy", "name": label,
                    "hovertemplate": "|error| from %{x:.3g}: %{y} elements<extra>" + label + "</extra>",
                }
            )  # fmt: skip
        if not data:
            continue
        zeros = sum(((o.get("stats") or {}).get("error_histogram") or {}).get("zeros", 0) for _, o in outs)
        layout = _layout(
            f"output {name!r}: absolute error per element" + (f" ({zeros} exactly equal, not shown)" if zeros else ""),
            "|optimized - reference| (log scale)",
            "elements",
        )
        layout["xaxis"]["type"] = "log"
        atol = (outs[0][1].get("criteria") or {}).get("atol")
        if atol:
            layout["shapes"] = [_vline(atol, f"atol {atol:g}")]
        figs.append({"data": data, "layout": layout})
    return figs


# ------------------------------------------------------------------------------------- language models


def _kld(f: Mapping[str, Any], d: Mapping[str, Any]) -> list[dict[str, Any]]:
    out = []
    budget = d.get("budget") or {}
    per_token = d.get("per_token_kld") or []
    if per_token:
        data = [
            {
                "type": "scatter", "mode": "lines", "y": per_token, "name": "KL divergence per token",
                "line": {"color": OPTIMIZED, "width": 1},
                "hovertemplate": "token %{x}: KLD %{y:.4g}<extra></extra>",
            }
        ]  # fmt: skip
        layout = _layout(
            f"KL divergence along the text ({len(per_token)} tokens, {f.get('windows')} windows of {f.get('context')})",
            "scored token",
            "KLD (nats)",
        )
        lines = ((f.get("mean_kld"), "mean", OPTIMIZED, "start"), (budget.get("mean"), "mean budget", BUDGET, "end"))
        layout["shapes"] = [_hline(v, f"{label} {v:.4g}", c, at) for v, label, c, at in lines if v is not None]
        out.append({"data": data, "layout": layout})
    rows = [
        ("mean KLD", f.get("mean_kld"), f.get("mean_kld_low"), f.get("mean_kld_high"), budget.get("mean"), "max"),
        ("PPL ratio", f.get("ppl_ratio"), f.get("ppl_ratio_low"), f.get("ppl_ratio_high"), budget.get("ppl_ratio"), "max"),
        ("same top", f.get("same_top"), f.get("same_top_low"), f.get("same_top_high"), budget.get("same_top"), "min"),
    ]  # fmt: skip
    for row in rows:
        if row[1] is not None:
            out.append(_interval_plot(f"{row[0]} with its 95% interval and budget", [row], row[0]))
    return out


def _llm_latency(f: Mapping[str, Any], d: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Time to first token, time per output token and peak memory, original beside optimized."""
    out = []
    for title, key, unit in (("time to first token", "ttft_ms", "ms"), ("time per output token", "tpot_ms", "ms"), ("peak resident memory", "memory_mb", "MiB")):  # fmt: skip
        names, values, colors = [], [], []
        for side, color, k in (("original", ORIGINAL, f"original_{key}"), ("optimized", OPTIMIZED, key)):
            if f.get(k) is not None:
                names.append(side)
                values.append(f[k])
                colors.append(color)
        if values:
            layout = _layout(f"{title} (p{f.get('percentile', 50):g})" if unit == "ms" else title, unit, "", height=150)
            out.append(
                {
                    "data": [{"type": "bar", "orientation": "h", "x": values, "y": names, "marker": {"color": colors},
                              "hovertemplate": "%{y}: %{x:.4g} " + unit + "<extra></extra>"}],
                    "layout": layout,
                }
            )  # fmt: skip
    return out
