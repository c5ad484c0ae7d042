"""Whom an item's results and goldens belong to: its node id without the device part of its
parametrization (a suite item: its suite and check), its file named from the rootdir."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .devices import parse_device
from .errors import ConfigError


def device_id(device: object) -> str:
    """A device's id: a DeviceSpec's, or that of a string a user parametrized edge_device with."""
    if isinstance(device, str):
        try:
            return parse_device(device).id
        except ConfigError:
            return device
    return str(getattr(device, "id", device))


def item_device_id(item: pytest.Item) -> str:
    """The id of the device an item runs on; "" for an item not parametrized by device."""
    from .suite.items import SuiteItem

    if isinstance(item, SuiteItem):
        return item.device.id
    callspec = getattr(item, "callspec", None)
    device = callspec.params.get("edge_device") if callspec is not None else None
    return "" if device is None else device_id(device)


def owner_of(item: pytest.Item) -> str:
    """The test a golden belongs to: node id without the device part of its parametrization."""
    from .suite.items import SuiteItem

    if isinstance(item, SuiteItem):
        return _rooted(item, item.owner)
    base, _, params = item.nodeid.partition("[")
    callspec = getattr(item, "callspec", None)
    raw = callspec.params.get("edge_device") if callspec is not None else None
    dev = raw if isinstance(raw, str) else item_device_id(item)  # a hand-parametrized string is its own id
    params = params[:-1] if params.endswith("]") else params
    if dev:
        if params == dev:
            params = ""
        elif params.startswith(dev + "-"):
            params = params[len(dev) + 1 :]
        elif params.endswith("-" + dev):
            params = params[: -len(dev) - 1]
        else:
            params = params.replace("-" + dev + "-", "-", 1)
    return _rooted(item, f"{base}[{params}]" if params else base)


def _rooted(item: pytest.Item, owner: str) -> str:
    """``owner`` with its file named from the rootdir. pytest names a file outside the rootdir by its path
    below the argument that collected it, or by nothing when the argument was the file itself, so two
    such files could share goldens; it is named by its path from the rootdir instead ('../x/test_a.py'),
    which golden_rel keeps inside the golden dir."""
    path, rootpath = getattr(item, "path", None), item.config.rootpath
    if path is None or Path(path).is_relative_to(rootpath):
        return owner
    try:
        module = Path(os.path.relpath(path, rootpath)).as_posix()
    except ValueError:  # another drive (Windows)
        module = Path(path).as_posix()
    return f"{module}::{owner.partition('::')[2]}"
