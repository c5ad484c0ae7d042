"""Suites as pytest nodes: a file, its suite, and one item per check and device (a malformed file: one
item that fails with the schema message)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ..errors import EdgeQAError, Unsupported
from ..types import DeviceSpec
from .fields import SuiteError, cut
from .schema import Suite, load

SUFFIX = ".edgeqa.yaml"

NAMES = pytest.StashKey[dict[str, Path]]()  # suite name -> the file that has it, in this session


def _shown(path: Path, config: pytest.Config) -> str:
    """``path`` relative to the rootdir where it lies inside it."""
    try:
        return str(path.relative_to(config.rootpath))
    except ValueError:
        return str(path)


class SuiteFile(pytest.File):
    """A ``*.edgeqa.yaml`` file. A malformed one yields a single item that errors with the schema
    message, so the problem is reported for that file alone and the rest of the session runs."""

    def collect(self) -> Iterator[pytest.Item | pytest.Collector]:
        try:
            suite = load(self.path)
            other = self.config.stash.setdefault(NAMES, {}).setdefault(suite.name, self.path)
            if other != self.path:
                raise SuiteError(
                    f"{self.path.name}: name: {suite.name!r} is already the name of the suite in {_shown(other, self.config)};"
                    " give each suite its own name"
                )
        except SuiteError as exc:
            error = str(exc)
        except Exception as exc:  # a bad file must fail alone, whatever it does to the validation
            error = f"{self.path.name}: cannot be read as a suite: {type(exc).__name__}: {cut(str(exc), 200)}"
        else:
            yield SuiteNode.from_parent(self, name=suite.name, suite=suite)
            return
        yield SuiteSchemaItem.from_parent(self, name="schema", error=cut(error, 2000))


class SuiteNode(pytest.Collector):
    def __init__(self, *, suite: Suite, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.suite = suite

    def collect(self) -> Iterator[pytest.Item]:
        from ..session import SESSION

        devices = self.config.stash[SESSION].settings.devices
        for check in self.suite.checks:
            for device in devices:
                yield SuiteItem.from_parent(self, name=f"{check}[{device.id}]", check=check, device=device)


class SuiteSchemaItem(pytest.Item):
    def __init__(self, *, error: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.error = error

    def setup(self) -> None:
        pytest.fail(self.error, pytrace=False)

    def runtest(self) -> None:  # never reached: setup raises
        raise SuiteError(self.error)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        return str(excinfo.value)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"{self.path.name}: invalid suite"


class SuiteItem(pytest.Item):
    """One check of a suite on one device."""

    def __init__(self, *, check: str, device: DeviceSpec, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.check = check
        self.device = device
        self.suite: Suite = self.parent.suite  # type: ignore[union-attr]

    @property
    def title(self) -> str:
        """The suite's node id (file::suite): what reports group its checks under."""
        return self.nodeid.rsplit("::", 1)[0]

    @property
    def owner(self) -> str:
        """Whom a golden of this check belongs to: the suite and the check, not the device."""
        return f"{self.title}::{self.check}"

    def setup(self) -> None:
        from ..gating import gate
        from ..markers import device_allowed
        from ..session import SESSION

        session = self.config.stash[SESSION]
        if self.suite.devices is not None and not device_allowed(self.device, self.suite.devices):
            pytest.skip(
                f"{self.device.id}: suite {self.suite.name!r} lists devices {', '.join(d.id for d in self.suite.devices)}"
            )
        gate(session, self.device)  # the same availability rule as the edge_device fixture

    def runtest(self) -> None:
        from .run import SuiteCheck, run_check

        try:
            run_check(self, SuiteCheck(self.suite, self.check, self.device, self.title, self.owner))
        except Unsupported as exc:
            pytest.skip(str(exc))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str | Any:
        if isinstance(excinfo.value, EdgeQAError):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"{self.check}[{self.device.id}]"


def collect_file(file_path: Path, parent: pytest.Collector) -> SuiteFile | None:
    if file_path.name.endswith(SUFFIX):
        return SuiteFile.from_parent(parent, path=file_path)
    return None
