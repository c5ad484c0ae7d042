"""What this plugin adds to pytest-html's report, when pytest-html is installed and ``--html`` asked for one:
the model x device matrix in its summary, and under each test its checks' verdicts and figures (its
``extras``). Registered only then: pytest rejects hook implementations of a plugin that is not there."""

from __future__ import annotations

from typing import Any

import pytest

from .. import report


def wanted(config: pytest.Config) -> bool:
    return config.pluginmanager.hasplugin("html") and bool(getattr(config.option, "htmlpath", None))


def add_extras(item: pytest.Item, report_: pytest.TestReport) -> None:
    """Each of the report's check records as one HTML extra: the verdict badge and the figures in words."""
    records = getattr(report_, "edgeqa_results", None)
    if not records or not wanted(item.config):
        return
    from pytest_html import extras

    from . import badge, describe_html

    found = getattr(report_, "extras", None) or []
    for r in records:
        found.append(extras.html(f'<div class="edgeqa">{badge(r)} {describe_html(r)}</div>'))
    report_.extras = found  # type: ignore[attr-defined]


class Summary:
    """pytest-html's summary hook, on the controller, with the records the report collector gathered."""

    def __init__(self, collector: Any) -> None:
        self.collector = collector

    def pytest_html_results_summary(self, prefix: list[str], summary: list[str], postfix: list[str]) -> None:
        from . import inline_css, matrix_table

        records = self.collector.records
        if records:
            tally = report.tally_text(report.counts(records))
            prefix.append(f"<style>{inline_css()}</style><h2>edgeqa checks: {tally}</h2>{matrix_table(records)}")
