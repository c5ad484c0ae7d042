"""A check's result kept on its test item: a record for the reports, its key figures for --junitxml."""

from __future__ import annotations

from typing import Any

from ..session import RESULTS


def store_record(item: Any, check: str, name: str, device: str, result: Any) -> None:
    """Keep a check's result on the item (it travels to the controller on the report) and put its key
    figures in user_properties, which --junitxml writes as properties."""
    from ..report import record

    rec = record(check, name, device, result)
    item.stash.setdefault(RESULTS, []).append(rec)
    item.user_properties.append((f"edgeqa.{check}.status", rec["status"]))
    for key, value in rec["figures"].items():
        if isinstance(value, (int, float, str)) and not isinstance(value, bool):
            item.user_properties.append((f"edgeqa.{check}.{key}", value))
