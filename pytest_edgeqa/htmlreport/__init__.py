"""The self-contained HTML report: one file, no network, no external assets, from any JSON report (one run's,
or a merged matrix of CI jobs).

The page holds the model x device matrix (each check's status, its figures on hover), then per result its
figures in words, its plots (Plotly.js, inlined), and the tables a reviewer needs (parity's worst elements and
"would pass with", generations side by side), the recipes' builds and the environment. Rendering is plain
string building with every text escaped; the plots are data for Plotly, never SVG drawn here."""

from __future__ import annotations

import html
import json
import math
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from .. import report
from . import plots

CHECK_ORDER = ("accuracy", "latency", "parity", "kld", "generation", "llm_latency")


class HTMLReportError(Exception):
    """The HTML report cannot be made here (its plotting library is missing)."""


def plotly_bundle() -> Path:
    """Plotly.js's offline bundle, from the plotly package (the page inlines it)."""
    import importlib.util

    spec = importlib.util.find_spec("plotly")
    bundle = Path(spec.origin).parent / "package_data" / "plotly.min.js" if spec and spec.origin else None
    if bundle is None or not bundle.is_file():
        raise HTMLReportError(
            "the HTML report inlines Plotly.js from the plotly package, which is not installed here "
            "(pytest-edgeqa depends on it: pip install plotly)"
        )
    return bundle


def _asset(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _finite(value: Any) -> Any:
    """JSON that JavaScript's JSON.parse takes: a NaN or infinity (older reports wrote them) becomes null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _json_for_script(value: Any) -> str:
    """JSON safe inside a <script> element (no "</" can close it early)."""
    return json.dumps(_finite(value), allow_nan=False, separators=(",", ":")).replace("</", "<\\/")


# ------------------------------------------------------------------------------------------------ page


def render(data: Mapping[str, Any], title: str = "pytest-edgeqa report") -> str:
    """The whole page of a report (as ``report.load`` or ``report.build`` give it)."""
    results = sorted(data.get("results", []), key=_order)
    ids = {id(r): f"r{i}" for i, r in enumerate(results)}
    figures: list[dict[str, Any]] = []
    sections = [
        _header(data, title),
        _matrix(results, ids),
        _recipes(results),
        _results(results, ids, figures),
        _environment(data.get("environment") or {}),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_asset('page.css')}</style></head>\n"
        f'<body data-plots="{len(figures)}"><main id="edgeqa-report">\n'
        + "\n".join(s for s in sections if s)
        + "\n</main>\n"
        + f'<script type="application/json" id="edgeqa-figures">{_json_for_script(figures)}</script>\n'
        + f"<script>{plotly_bundle().read_text(encoding='utf-8')}</script>\n<script>{_asset('page.js')}</script>\n</body></html>\n"
    )


def _order(r: Mapping[str, Any]) -> tuple[Any, ...]:
    check = str(r.get("check"))
    return (r.get("name", ""), CHECK_ORDER.index(check) if check in CHECK_ORDER else 99, r.get("device", ""))


def _header(data: Mapping[str, Any], title: str) -> str:
    summary = data.get("summary") or report.counts(data.get("results", []))
    xfail = sum(1 for r in data.get("results", []) if expected_failure(r))
    tally = "".join(
        f'<li class="badge s-{_e(s)}" data-status="{_e(s)}">{n} {_e(report.LABELS.get(s, s).lower())}'
        + (f" ({xfail} expected: xfail)" if s == "fail" and xfail else "")
        + "</li>"
        for s, n in summary.items()
    )
    env = data.get("environment") or {}
    when = f"{_e(data.get('created', ''))}, {float(data.get('duration_s') or 0):.1f} s"
    where = ", ".join(env.get("devices", [])) or "-"
    return (
        f"<header><h1>{_e(title)}</h1><p class=\"when\">{when} on {_e(where)}</p>"
        f'<ul class="tally">{tally}</ul>'
        '<p class="filters">Show: ' + "".join(
            f'<label><input type="checkbox" data-filter="{s}" checked> {_e(report.LABELS[s].lower())}</label> '
            for s in report.STATUSES
        ) + "</p></header>"
    )  # fmt: skip


def expected_failure(r: Mapping[str, Any]) -> bool:
    """A check that failed in a test marked xfail (pytest counts it skipped): the failure was expected."""
    return report.status_of(r) == "fail" and r.get("outcome") == "skipped"


def _hover(r: Mapping[str, Any]) -> str:
    xfail = " (expected: the test is marked xfail)" if expected_failure(r) else ""
    return f"{report.verdict(r)}{xfail}: {report.describe(r)}"


def badge(r: Mapping[str, Any], href: str | None = None, text: str | None = None) -> str:
    """A record's status badge: its colour, its check (or ``text``), its figures or reason on hover."""
    status = _e(report.status_of(r))
    tag, link = ("a", f' href="#{href}"') if href else ("span", "")
    xfail = " xfail" if expected_failure(r) else ""
    return (
        f'<{tag} class="badge s-{status}{xfail}"{link} data-check="{_e(r["check"])}" data-status="{status}" '
        f'title="{_e(_hover(r))}">{_e(text or r["check"])}</{tag}>'
    )


def describe_html(r: Mapping[str, Any]) -> str:
    return f"<code>{_e(r['check'])} on {_e(r['device'])}</code>: {_e(report.describe(r))}"


def inline_css() -> str:
    """The page's styles for badges and tables, for a page of someone else's (pytest-html's)."""
    return _asset("page.css")


def matrix_table(results: list[Mapping[str, Any]], ids: Mapping[int, str] | None = None) -> str:
    """One row per model or suite, one column per device, in each cell a badge per check (status colour,
    the figures or the skip's reason on hover, a link to the result below when ``ids`` places them)."""
    devices = sorted({str(r["device"]) for r in results})
    head = "".join(f'<th scope="col">{_e(d)}</th>' for d in devices)
    rows = []
    for name in sorted({str(r["name"]) for r in results}):
        cells = []
        for d in devices:
            here = [r for r in results if r["name"] == name and r["device"] == d]
            badges = "".join(badge(r, ids[id(r)] if ids else None) for r in here)
            cells.append(f'<td data-device="{_e(d)}">{badges or "<span class=none>-</span>"}</td>')
        rows.append(f'<tr data-name="{_e(name)}"><th scope="row">{_e(name)}</th>{"".join(cells)}</tr>')
    return (
        f'<table class="matrix"><thead><tr><th>model / suite</th>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _matrix(results: list[Mapping[str, Any]], ids: Mapping[int, str]) -> str:
    body = matrix_table(results, ids) if results else '<p class="empty">No results.</p>'
    return f'<section id="matrix"><h2>Matrix</h2>{body}</section>'


# --------------------------------------------------------------------------------------------- recipes


def _optimizations(value: Any) -> Iterable[Mapping[str, Any]]:
    """Every recipe build recorded anywhere in a record's detail (accuracy's runs, latency's setup)."""
    if isinstance(value, Mapping):
        if isinstance(value.get("optimization"), Mapping) and value["optimization"].get("recipe"):
            yield value["optimization"]
        for v in value.values():
            yield from _optimizations(v)
    elif isinstance(value, list):
        for v in value:
            yield from _optimizations(v)


def _mib(n: Any) -> str:
    return "-" if not isinstance(n, (int, float)) else f"{n / 2**20:.2f} MiB"


def _recipes(results: list[Mapping[str, Any]]) -> str:
    """The optimized models' builds: recipe, options, size before and after, compression, build time."""
    seen: dict[tuple[str, str], tuple[str, Mapping[str, Any]]] = {}
    for r in results:
        for b in _optimizations(r.get("detail")):
            seen.setdefault((str(r["name"]), str(b.get("key") or b.get("build_id"))), (str(r["name"]), b))
    if not seen:
        return ""
    rows = "".join(
        f"<tr><td>{_e(name)}</td><td>{_e(b.get('recipe'))}</td><td><code>{_e(json.dumps(b.get('options') or {}))}</code></td>"
        f"<td>{_mib(b.get('size_before'))} &rarr; {_mib(b.get('size_after'))}</td>"
        f"<td>{_e(b.get('compression_ratio'))}x</td><td>{_e(b.get('calibration_samples') or '-')}</td>"
        f"<td>{float(b.get('build_s') or 0):.1f} s</td></tr>"
        for name, b in seen.values()
    )
    return (
        '<section id="recipes"><h2>Recipes</h2><table class="data"><thead><tr><th>model / suite</th><th>recipe</th>'
        "<th>options</th><th>size</th><th>compression</th><th>calibration samples</th><th>build time</th></tr></thead>"
        f"<tbody>{rows}</tbody></table></section>"
    )


# --------------------------------------------------------------------------------------------- results


def _results(results: list[Mapping[str, Any]], ids: Mapping[int, str], figures: list[dict[str, Any]]) -> str:
    out = ['<section id="results"><h2>Results</h2>']
    for name in sorted({str(r["name"]) for r in results}):
        out.append(f'<section class="model" data-name="{_e(name)}"><h3>{_e(name)}</h3>')
        for r in (r for r in results if r["name"] == name):
            out.append(_result(r, ids[id(r)], figures))
        out.append("</section>")
    out.append("</section>")
    return "\n".join(out)


def _result(r: Mapping[str, Any], rid: str, figures: list[dict[str, Any]]) -> str:
    status = report.status_of(r)
    detail = r.get("detail") or {}
    parts = [
        f'<article class="result s-{_e(status)}" id="{rid}" data-check="{_e(r["check"])}" '
        f'data-device="{_e(r["device"])}" data-status="{_e(status)}">',
        f"<h4>{badge(r, text=report.LABELS.get(status, status) + (' (xfail)' if expected_failure(r) else ''))} "
        f"{_e(r['check'])} on {_e(r['device'])} <small><code>{_e(r.get('nodeid', ''))}</code></small></h4>",
    ]
    if r.get("figures"):
        parts.append(f'<p class="figures">{_e(report.describe(r))}</p>')
    reasons = [detail.get("reason")] if detail.get("reason") else []
    reasons += list(detail.get("failed") or detail.get("failures") or []) + list(detail.get("refused") or [])
    if reasons:
        parts.append('<ul class="reasons">' + "".join(f"<li>{_e(x)}</li>" for x in reasons if x) + "</ul>")
    for note in detail.get("notes") or []:
        parts.append(f'<p class="note">{_e(note)}</p>')
    for fig in plots.figures_of(r):
        parts.append(f'<div class="plot" data-plot="{len(figures)}"></div>')
        figures.append(fig)
    if r["check"] == "parity":
        parts.append(_parity_tables(detail))
    elif r["check"] == "generation":
        parts.append(_generations(detail))
    parts.append("</article>")
    return "\n".join(p for p in parts if p)


def _parity_tables(detail: Mapping[str, Any]) -> str:
    """Per comparison and output: the figures, the criteria as applied, the worst elements, what would pass."""
    out = []
    for c in detail.get("comparisons") or []:
        for name, o in (c.get("outputs") or {}).items():
            s = o.get("stats") or {}
            crit = ", ".join(f"{k}={v}" for k, v in (o.get("criteria") or {}).items()) or "-"
            row = (
                f"<tr><td>{_e(c.get('label'))}</td><td>{_e(name)}</td><td>{_e(o.get('shape'))}</td>"
                f"<td>{_num(s.get('cosine'), '.6f')}</td><td>{_num(s.get('max_abs_error'), '.3g')}</td>"
                f"<td>{_e(s.get('worst_index'))}: {_num(s.get('worst_reference'), '.5g')} &rarr; {_num(s.get('worst_actual'), '.5g')}</td>"
                f"<td>{_num(s.get('snr_db'), '.1f')}</td><td><code>{_e(crit)}</code> ({_e(o.get('criteria_source'))})</td>"
                f"<td>{'held' if o.get('ok') else 'FAILED'}</td></tr>"
            )  # fmt: skip
            out.append(row)
            if o.get("would_pass"):
                out.append(
                    f'<tr class="would-pass"><td colspan="9">would pass with: {_e(" or ".join(o["would_pass"]))}</td></tr>'
                )
            listed = o.get("listed") or []
            if listed:
                cells = "".join(
                    f"<tr><td>{_e(x.get('index'))}</td><td>{_num(x.get('reference'), '.6g')}</td>"
                    f"<td>{_num(x.get('actual'), '.6g')}</td><td>{_num(x.get('abs_error'), '.3g')}</td></tr>"
                    for x in listed
                )
                out.append(
                    f'<tr class="worst"><td colspan="9"><table class="data"><thead><tr><th>element</th><th>reference</th>'
                    f"<th>actual</th><th>|error|</th></tr></thead><tbody>{cells}</tbody></table></td></tr>"
                )
    if not out:
        return ""
    return (
        '<table class="data parity"><thead><tr><th>comparison</th><th>output</th><th>shape</th><th>cosine</th>'
        "<th>max |error|</th><th>worst element: reference &rarr; actual</th><th>SNR dB</th><th>criteria</th><th></th>"
        f"</tr></thead><tbody>{''.join(out)}</tbody></table>"
    )


def _num(value: Any, fmt: str) -> str:
    return "-" if not isinstance(value, (int, float)) or isinstance(value, bool) else _e(format(value, fmt))


def _generations(detail: Mapping[str, Any]) -> str:
    """Each prompt's continuation by the original and by the optimized model, side by side."""
    rows = "".join(
        f"<tr><td>{_e(p.get('prompt'))}</td><td>{_e(p.get('original_text'))}</td><td>{_e(p.get('optimized_text'))}</td>"
        f"<td>{'-' if p.get('first_divergence') is None else 'token ' + _e(p['first_divergence'])}</td></tr>"
        for p in detail.get("prompts") or []
    )
    if not rows:
        return ""
    return (
        '<table class="data generations"><thead><tr><th>prompt</th><th>original</th><th>optimized</th>'
        f"<th>first divergence</th></tr></thead><tbody>{rows}</tbody></table>"
    )


# ----------------------------------------------------------------------------------------- environment


def _environment(env: Mapping[str, Any]) -> str:
    jobs: list[Mapping[str, Any]] = []
    for job in env.get("jobs") or [env]:  # a merged report: each job's own, once each
        if job not in jobs:
            jobs.append(job)
    blocks = []
    for job in jobs:
        cpu = job.get("cpu") or {}
        versions = ", ".join(f"{k} {v}" for k, v in (job.get("versions") or {}).items())
        items = [
            ("CPU", f"{cpu.get('name', '?')} ({cpu.get('cores', '?')} cores)"),
            ("CPU features", " ".join(cpu.get("features") or []) or "-"),
            ("devices", ", ".join(job.get("devices") or []) or "-"),
            ("versions", versions or "-"),
            ("Python", job.get("python", "?")),
            ("platform", job.get("platform", "?")),
            ("CI", "yes" if job.get("ci") else "no"),
        ]
        blocks.append("<dl>" + "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in items) + "</dl>")
    return f'<section id="environment"><h2>Environment</h2>{"".join(blocks)}</section>'


def write(data: Mapping[str, Any], path: Path) -> None:
    """Render and write the page atomically (a reader never sees half a page)."""
    report.write_atomic(Path(path), render(data))
