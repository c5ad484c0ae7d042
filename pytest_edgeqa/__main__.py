"""``python -m pytest_edgeqa merge|compare|html``: combine per-device reports, find regressions between runs,
and render any report (or several, merged) as one self-contained HTML page."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import report


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pytest_edgeqa", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    m = sub.add_parser("merge", help="merge reports (one per CI job/device) into one model x device report")
    m.add_argument("reports", nargs="+", type=Path)
    m.add_argument("-o", "--output", type=Path, required=True, help="merged JSON report")
    m.add_argument("--md", type=Path, help="also write the Markdown summary here")
    m.add_argument("--html", type=Path, help="also write the HTML report here")
    h = sub.add_parser("html", help="render a JSON report (several are merged first) as one self-contained HTML page")
    h.add_argument("reports", nargs="+", type=Path)
    h.add_argument("-o", "--output", type=Path, required=True, help="the HTML file to write")
    h.add_argument("--title", default="pytest-edgeqa report", help="the page's title")
    c = sub.add_parser("compare", help="what moved between a baseline and a current report; exit 1 on a regression")
    c.add_argument("baseline", type=Path)
    c.add_argument("current", type=Path)
    c.add_argument(
        "--max-accuracy-drop", type=float, default=0.005, help="allowed growth of an accuracy drop (default 0.005)"
    )
    c.add_argument(
        "--max-latency-ratio",
        type=float,
        default=1.10,
        help="allowed p50 latency ratio current/baseline (default 1.10)",
    )
    c.add_argument("--max-cosine-drop", type=float, default=1e-4, help="allowed fall of a parity cosine (default 1e-4)")
    c.add_argument(
        "--max-kld-growth", type=float, default=0.005, help="allowed growth of a mean KL divergence (default 0.005)"
    )
    c.add_argument(
        "--max-ppl-ratio-growth",
        type=float,
        default=0.01,
        help="allowed growth of a PPL(optimized)/PPL(original) ratio (default 0.01)",
    )
    c.add_argument(
        "--max-same-top-drop", type=float, default=0.01, help="allowed fall of a same-top-token rate (default 0.01)"
    )
    c.add_argument(
        "--max-exact-drop",
        type=float,
        default=0.1,
        help="allowed fall of the rate of prompts a generation check generates alike (default 0.1)",
    )
    c.add_argument(
        "--max-memory-ratio",
        type=float,
        default=1.10,
        help="allowed peak-memory ratio current/baseline of a language model's llm_latency check (default 1.10)",
    )
    c.add_argument(
        "--allow-lost",
        action="store_true",
        help="a check that was judged before and is skipped or gone now is not a regression (lost coverage)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "merge":
        return _merge(args)
    if args.command == "html":
        return _html(args)
    return _compare(args)


def _merge(args: argparse.Namespace) -> int:
    merged = report.merge([report.load(p) for p in args.reports])
    report.write_atomic(args.output, json.dumps(merged, indent=2) + "\n")
    for line in report.matrix_lines(merged):
        print(line)
    print(f"merged {len(args.reports)} reports, {len(merged['results'])} results -> {args.output}")
    if args.md:
        report.write_atomic(args.md, report.markdown(merged))
        print(f"Markdown summary -> {args.md}")
    if args.html:
        _write_html(merged, args.html, "pytest-edgeqa report")
    return 0


def _html(args: argparse.Namespace) -> int:
    reports = [report.load(p) for p in args.reports]
    data = reports[0] if len(reports) == 1 else report.merge(reports)
    _write_html(data, args.output, args.title)
    return 0


def _write_html(data: dict, path: Path, title: str) -> None:
    from .htmlreport import HTMLReportError, render

    try:
        page = render(data, title)
    except HTMLReportError as exc:
        raise SystemExit(f"html: {exc}") from None
    try:
        report.write_atomic(path, page)
    except OSError as exc:
        raise SystemExit(f"html: cannot write {path}: {exc.strerror or exc}") from None
    print(f"HTML report ({len(data['results'])} results, {len(page) / 2**20:.1f} MiB) -> {path}")


def _compare(args: argparse.Namespace) -> int:
    moved, regressions = report.compare(
        report.load(args.baseline),
        report.load(args.current),
        accuracy=args.max_accuracy_drop,
        latency=args.max_latency_ratio,
        parity=args.max_cosine_drop,
        kld=args.max_kld_growth,
        ppl_ratio=args.max_ppl_ratio_growth,
        same_top=args.max_same_top_drop,
        exact=args.max_exact_drop,
        memory=args.max_memory_ratio,
        allow_lost=args.allow_lost,
    )
    for line in moved:
        print(line)
    if regressions:
        print(f"\n{len(regressions)} regression(s):")
        for line in regressions:
            print(f"  {line}")
        return 1
    print("\nno regression beyond the thresholds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
