"""An item's result records on its test report (pytest-xdist carries them to the controller): those its
checks stored, or, for a check that did not get to judge, one skip or fail record with the reason."""

from __future__ import annotations

from typing import Any

import pytest

from .owners import device_id, owner_of
from .session import RESULTS


def record(request: pytest.FixtureRequest, check: str, result: Any) -> None:
    """Store a check's result on the running item, under its owner and device."""
    from .checks import store_record

    node = request.node
    store_record(node, check, owner_of(node), device_id(request.getfixturevalue("edge_device")), result)


def before_report(item: pytest.Item, call: pytest.CallInfo[None]) -> None:
    """parity_check's calls in this item become one record, before the report copies user_properties."""
    if call.when == "call" and "parity_check" in getattr(item, "fixturenames", ()):
        from .checks import store_live_parity

        store_live_parity(item, owner_of(item))


def attach(item: pytest.Item, call: pytest.CallInfo[None], report: pytest.TestReport) -> None:
    """Put the item's records on its report (a plain attribute, which pytest-xdist serializes)."""
    from .suite.items import SuiteItem

    if isinstance(item, SuiteItem) and report.skipped and isinstance(report.longrepr, tuple):
        report.longrepr = (str(item.path), 1, report.longrepr[2])  # point at the suite file, not our code
    if call.when == "call" and item.stash.get(RESULTS, None):
        report.edgeqa_results = [{**r, "nodeid": item.nodeid} for r in item.stash[RESULTS]]  # type: ignore[attr-defined]
    elif (report.skipped or (report.failed and call.when != "teardown")) and not item.stash.get(RESULTS, None):
        # A check that did not get to record a result still ends in one status: skip (with the reason,
        # so a device matrix shows where a check did not run and why) or fail (it errored before judging).
        report.edgeqa_results = unjudged_records(item, report)  # type: ignore[attr-defined]


def unjudged_records(item: pytest.Item, report: pytest.TestReport) -> list[dict[str, Any]]:
    """One record per check the item runs, with the skip's reason or the failure's first line."""
    from .suite.items import SuiteItem

    if report.skipped:
        status = "skip"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        reason = reason.removeprefix("Skipped: ")
    else:
        status = "fail"
        crash = getattr(report.longrepr, "reprcrash", None)
        text = crash.message if crash is not None else report.longreprtext
        reason = next((ln.strip() for ln in text.splitlines() if ln.strip()), "failed").removeprefix("Failed: ")[:300]
    if isinstance(item, SuiteItem):
        name, device = item.title, item.device.id
    else:
        spec = getattr(getattr(item, "callspec", None), "params", {}).get("edge_device")
        name, device = owner_of(item), device_id(spec) if spec is not None else "-"
    checks = checks_of(item)
    item.user_properties.extend((f"edgeqa.{check}.status", status) for check in checks)  # for --junitxml
    return [
        {
            "check": check,
            "name": name,
            "device": device,
            "status": status,
            "ok": False,
            "figures": {},
            "detail": {"reason": reason},
            "nodeid": item.nodeid,
        }
        for check in checks
    ]


def checks_of(item: pytest.Item) -> list[str]:
    """The checks an item runs: a suite item's one, or those a test's fixtures ask for."""
    from .suite.items import SuiteItem

    if isinstance(item, SuiteItem):
        return [item.check]
    names = getattr(item, "fixturenames", ())
    return [
        c
        for c, fixtures in (
            ("accuracy", ("accuracy_check",)),
            ("latency", ("latency_check",)),
            ("parity", ("golden_check", "parity_check")),
            ("kld", ("kld_check",)),
            ("generation", ("generation_check",)),
            ("llm_latency", ("llm_latency_check",)),
        )
        if any(f in names for f in fixtures)
    ]
