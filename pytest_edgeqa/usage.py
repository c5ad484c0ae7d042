"""What a session did with goldens, for deciding which are unused: plain data, no numpy (the plugin
fills it during collection, before any model is needed)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Usage:
    """What a session did with goldens. Each process collects its part (workers publish it with
    ``to_wire``), the controller merges them and the test reports, then ``undecided`` and ``unused`` judge."""

    touched: set[str] = field(default_factory=set)  # golden paths, relative to the golden dir
    passed: set[tuple[str, str]] = field(default_factory=set)  # (owner, device) of items that ran and passed
    tests: set[str] = field(default_factory=set)  # every collected item's test, parameters dropped, before deselection
    modules: set[str] = field(default_factory=set)  # the modules (node id paths) those items came from
    selected: set[str] = field(default_factory=set)  # node ids selected to run
    finished: set[str] = field(default_factory=set)  # node ids whose teardown was reported
    devices: set[str] = field(default_factory=set)  # this run's devices
    problems: list[str] = field(default_factory=list)  # why this session cannot judge (see ``undecided``)
    collected: bool = False

    def add_item(self, nodeid: str, owner: str) -> None:
        self.tests.add(owner.partition("[")[0])
        self.modules.add(owner.split("::", 1)[0])  # the owner's file: named from the rootdir, as goldens name it

    def to_wire(self) -> dict[str, Any]:
        """Plain data for ``config.workeroutput`` (pytest-xdist's channel serializes lists, not sets)."""
        return {
            "tests": sorted(self.tests),
            "modules": sorted(self.modules),
            "selected": sorted(self.selected),
            "problems": list(self.problems),
            "collected": self.collected,
        }

    def merge(self, wire: Mapping[str, Any]) -> None:
        self.tests.update(wire.get("tests", ()))
        self.modules.update(wire.get("modules", ()))
        self.selected.update(wire.get("selected", ()))
        self.problems.extend(p for p in wire.get("problems", ()) if p not in self.problems)
        self.collected = self.collected or bool(wire.get("collected"))

    def undecided(self) -> str | None:
        """Why goldens cannot be judged unused from this session, or None when it ran to its end."""
        if self.problems:
            more = len(self.problems) - 1
            return self.problems[0] + (f" (and {more} more problem(s))" if more else "")
        if not self.collected:
            return "the session collected nothing"
        missing = self.selected - self.finished
        if missing:
            return f"{len(missing)} selected test(s) did not run to their end, e.g. {min(missing)}"
        return None
