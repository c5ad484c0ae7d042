"""Golden bookkeeping across a session: which tests exist and ran, which goldens they touched, and at
the end which goldens no test used (listed, or removed with --golden-prune). The data lives in ``Usage``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .owners import item_device_id, owner_of
from .session import GOLDEN, SESSION, is_worker
from .usage import Usage

USAGE = pytest.StashKey[Usage]()  # every process: what it collected; the controller merges the rest
OWNER = "edgeqa_owner"  # user_properties key: the test an item that may use goldens belongs to
DEVICE = "edgeqa_device"  # user_properties key: the device of an item that may use goldens
USAGE_WIRE = "edgeqa_golden_usage"  # config.workeroutput key: a worker's Usage.to_wire()


def start_usage(config: pytest.Config) -> None:
    """Every process collects its Usage; the controller (or a plain run) also judges goldens at the end."""
    config.stash[USAGE] = Usage(devices={d.id for d in config.stash[SESSION].settings.devices})
    config.pluginmanager.register(GoldenCollection(config), "edgeqa-golden-collection")
    if not is_worker(config):
        config.pluginmanager.register(GoldenUsage(config), "edgeqa-golden-usage")


def mark_owner(item: pytest.Item) -> None:
    """An item that may use goldens says, on its report, whom it belongs to and which device it ran on."""
    from .suite.items import SuiteItem

    if "golden_check" in getattr(item, "fixturenames", ()) or (isinstance(item, SuiteItem) and item.check == "parity"):
        item.user_properties += [(OWNER, owner_of(item)), (DEVICE, item_device_id(item))]


class GoldenCollection:
    """Every process: which tests exist (collected before any deselection), which were selected, and what
    kept the collection from being whole. A worker hands it to the controller in config.workeroutput."""

    def __init__(self, config: pytest.Config) -> None:
        self.usage = config.stash[USAGE]

    @pytest.hookimpl(tryfirst=True)  # before -k, -m, --deselect and the like drop items: a deselected test exists
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        from .suite.items import SuiteSchemaItem

        self.usage.collected = True
        for item in items:
            if isinstance(item, SuiteSchemaItem):
                self.usage.problems.append(f"invalid suite {item.nodeid.split('::', 1)[0]}")
            else:
                self.usage.add_item(item.nodeid, owner_of(item))

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.usage.selected.update(item.nodeid for item in session.items)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        # On the controller too: pytest-xdist replays the workers' failed collections there.
        problem = f"a collection error in {report.nodeid or 'the session'}"
        if report.failed and problem not in self.usage.problems:
            self.usage.problems.append(problem)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        config = session.config
        if is_worker(config):  # merged on the controller in GoldenUsage.pytest_testnodedown
            config.workeroutput[USAGE_WIRE] = self.usage.to_wire()  # type: ignore[attr-defined]


# What makes a session run no tests at all: nothing it did can say a golden is unused.
_NO_TESTS = (
    ("collectonly", "--collect-only"),
    ("showfixtures", "--fixtures"),
    ("show_fixtures_per_test", "--fixtures-per-test"),
    ("markers", "--markers"),
    ("setuponly", "--setup-only"),
    ("setupplan", "--setup-plan"),
)


class GoldenUsage:
    """Controller-side bookkeeping of golden use, fed by test reports (so it works under pytest-xdist,
    where the reports carry each item's user_properties to the controller) and by the collection of
    this process or, under pytest-xdist, of the workers."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.unused: list[Path] = []
        self.pruned = False
        self.undecided: str | None = None

    @property
    def usage(self) -> Usage:
        return self.config.stash[USAGE]

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        usage = self.usage
        if report.when == "teardown":
            usage.finished.add(report.nodeid)
        props = [(str(k), str(v)) for k, v in report.user_properties]
        owner = next((v for k, v in props if k == OWNER), None)
        if owner is None:
            return
        usage.touched.update(v for k, v in props if k == GOLDEN)
        if report.when == "call" and report.passed:
            usage.passed.add((owner, next((v for k, v in props if k == DEVICE), "")))

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        """pytest-xdist: a worker finished (or died); merge what it collected."""
        self.usage.merge(getattr(node, "workeroutput", {}).get(USAGE_WIRE, {}))
        if error:
            self.usage.problems.append(f"pytest-xdist worker {node.gateway.id} crashed ({error})")

    def _why_undecided(self, session: pytest.Session, exitstatus: int) -> str | None:
        """Why this session cannot tell which goldens are unused; None when it ran to its end."""
        for dest, flag in _NO_TESTS:
            if self.config.getoption(dest, False):
                return f"{flag} ran no tests"
        if self.usage.problems:
            return self.usage.undecided()
        if exitstatus == pytest.ExitCode.INTERRUPTED:
            return "the session was interrupted"
        if exitstatus not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED, pytest.ExitCode.NO_TESTS_COLLECTED):
            return f"the session ended with exit status {int(exitstatus)}"
        stopped = session.shouldfail or session.shouldstop
        if stopped:
            return f"the session stopped early ({stopped})" if isinstance(stopped, str) else "the session stopped early"
        return self.usage.undecided()

    def _module_gone(self) -> Any:
        """Decides whether a test module that was not collected is gone: it no longer exists and lies under
        this run's paths. None where the run cannot tell (--lf skips files, node ids select single tests)."""
        config = self.config
        if config.getoption("lf", False) or any("::" in arg for arg in config.args):
            return None
        rootpath, here = config.rootpath, config.invocation_params.dir
        scope = [(here / a.split("::")[0]).resolve() for a in config.args]

        def gone(module: str) -> bool:
            path = (rootpath / module).resolve()
            return not path.exists() and any(path == s or s in path.parents for s in scope)

        return gone

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        settings = self.config.stash[SESSION].settings
        if not settings.golden_dir.is_dir():
            return
        self.undecided = self._why_undecided(session, exitstatus)
        if self.undecided is not None:
            return
        from .golden import remove, unused

        self.unused = unused(settings.golden_dir, self.usage, self._module_gone())
        if settings.golden_prune and self.unused:
            for path in self.unused:
                remove(path)
            self.pruned = True

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.undecided is not None and self.config.stash[SESSION].settings.golden_prune:
            terminalreporter.write_line(
                f"edgeqa: --golden-prune skipped: {self.undecided}; goldens are judged unused only from a session that ran to its end"
            )
        if not self.unused:
            return
        rootpath = self.config.rootpath
        verb = "removed" if self.pruned else "unused"
        terminalreporter.section(f"edgeqa: {len(self.unused)} {verb} golden(s)")
        for path in self.unused:
            terminalreporter.write_line(f"  {path.relative_to(rootpath) if path.is_relative_to(rootpath) else path}")
        if not self.pruned:
            terminalreporter.write_line("no selected test used these goldens; delete them with --golden-prune")
