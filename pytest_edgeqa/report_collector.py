"""The report collector, on the controller (or a plain run): gathers the result records from test reports,
prints the terminal summary, and writes the JSON and Markdown reports asked for (and GitHub's step summary)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from . import config as cfg
from .session import SESSION


def _append(path: Path, text: str) -> None:
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(text)


def _write_html(data: dict[str, Any], path: Path) -> None:
    from .htmlreport import write

    write(data, path)


class EdgeReport:
    """Controller-side: gathers result records from reports, prints the summary, writes the files."""

    def __init__(self, config: pytest.Config) -> None:
        import time

        self.config = config
        self.records: list[dict[str, Any]] = []
        self.started = time.time()
        self.written: list[str] = []
        self.failed: list[str] = []  # report files that could not be written

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        for rec in getattr(report, "edgeqa_results", None) or []:
            self.records.append({**rec, "outcome": report.outcome})

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        from . import report

        settings = self.config.stash[SESSION].settings
        # A report is written whenever one is asked for, empty or not: a matrix job whose device was
        # missing still hands its (skipped) results to the merge.
        step_summary = os.environ.get("GITHUB_STEP_SUMMARY") and self.records
        if not (settings.report_json or settings.report_md or settings.report_html or step_summary):
            return
        import json

        data = report.build(self.records, report.environment(d.id for d in settings.devices), self.started)
        text = report.markdown(data)
        summary = os.environ.get("GITHUB_STEP_SUMMARY")
        for path, what, done, write in (
            (
                settings.report_json,
                "JSON report",
                f"JSON report written to {settings.report_json}",
                lambda p: report.write_atomic(p, json.dumps(data, indent=2) + "\n"),
            ),
            (
                settings.report_md,
                "Markdown summary",
                f"Markdown summary written to {settings.report_md}",
                lambda p: report.write_atomic(p, text),
            ),
            (
                settings.report_html,
                "HTML report",
                f"HTML report written to {settings.report_html}",
                lambda p: _write_html(data, p),
            ),
            (
                Path(summary) if summary else None,
                "summary to $GITHUB_STEP_SUMMARY",
                f"summary appended to $GITHUB_STEP_SUMMARY ({summary})",
                lambda p: _append(p, text),
            ),
        ):
            if path is None:
                continue
            try:
                write(path)
            except OSError as exc:
                # Checked at configure time; what changed since (a file where a folder was, a full disk)
                # is one line, the rest of the summary still printed, and a session that did not do
                # everything asked ends non-zero.
                here = self.config.invocation_params.dir
                why = cfg.file_problem(path, here) or f"{exc.strerror or exc}"
                self.failed.append(f"edgeqa: could not write the {what} ({cfg.shown(path, here)}): {why}")
                if session.exitstatus == pytest.ExitCode.OK:
                    session.exitstatus = pytest.ExitCode.TESTS_FAILED
            else:
                self.written.append(f"edgeqa: {done}")

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        from .report import terminal_lines

        if self.records:
            terminalreporter.section("edgeqa results")
            for line in terminal_lines(self.records, 100):
                terminalreporter.write_line(line)
        for line in self.written:
            terminalreporter.write_line(line)
        for line in self.failed:
            terminalreporter.write_line(line, red=True, bold=True)
