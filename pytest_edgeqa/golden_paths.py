"""Where goldens live: a golden's path from its test's node id and name (injective), the path versions
before injective names used, and whose a golden is."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

_UNSAFE = re.compile(r"[^A-Za-z0-9_.=,+-]+")
_HASHED = re.compile(r"-[0-9a-f]{8}$")


def safe_name(text: str) -> str:
    return _UNSAFE.sub("_", text).strip("_.") or "golden"


def _legacy_stem(test: str, name: str | None) -> str:
    return safe_name(test.replace("::", ".")) + (f"__{safe_name(name)}" if name else "")


def _readable(test: str, name: str | None, stem: str) -> bool:
    """Whether ``stem`` spells (test, name) so that no other pair can spell it: only safe characters,
    nothing dropped, one way to split test from name, and not the shape of a hashed stem."""
    if "." in test or "__" in test or safe_name(test.replace("::", ".")) != test.replace("::", "."):
        return False
    if name is not None and (name == "" or "__" in name or safe_name(name) != name):
        return False
    return _HASHED.search(stem) is None


OUTSIDE = "_outside_rootdir"  # goldens of test files outside the rootdir: a folder inside the golden dir


def _module_dir(module: str) -> tuple[str, bool]:
    """The folder of a module's goldens, relative to the golden dir, and whether it spells the module
    exactly. A module outside the rootdir (a path with '..', absolute, or empty) gets a folder under
    OUTSIDE made of its safe parts, so no golden path can leave the golden dir."""
    posix = module.replace("\\", "/")
    parts = posix.split("/")
    if (
        posix
        and not posix.startswith("/")
        and not re.match(r"^[A-Za-z]:", posix)
        and all(p not in ("", ".", "..") for p in parts)
    ):
        return Path(posix).with_suffix("").as_posix(), True
    kept = [
        safe_name(Path(p).stem if i == len(parts) - 1 else p) for i, p in enumerate(parts) if p not in ("", ".", "..")
    ]
    return "/".join([OUTSIDE, *(k for k in kept if k)]), False


def golden_rel(owner: str, name: str | None = None) -> str:
    """Where a golden lives, relative to the golden dir: ``<module path>/<test>[__<name>].npz``. Injective:
    when the readable stem lost information (a parametrized id's brackets, a character a file name cannot
    hold, a module outside the rootdir), a short hash of the exact owner and name is added, so two tests
    or names never share a file."""
    module, _, test = owner.partition("::")
    folder, exact = _module_dir(module)
    stem = _legacy_stem(test, name)
    if not exact or not _readable(test, name, stem):
        digest = hashlib.sha256(f"{owner}\0{name if name is not None else ''}".encode()).hexdigest()[:8]
        stem = f"{stem}-{digest}"
    return f"{folder}/{stem}.npz"


def legacy_rel(owner: str, name: str | None = None) -> str:
    """Where versions before injective names put this golden (read until it is re-recorded)."""
    module, _, test = owner.partition("::")
    return f"{_module_dir(module)[0]}/{_legacy_stem(test, name)}.npz"


def inside(root: Path, rel: str) -> bool:
    """Whether ``root/rel`` stays in ``root`` once '..' is resolved (links a user put in the golden dir
    are theirs to follow)."""
    import os

    base = os.path.normpath(root)
    return os.path.commonpath([base, os.path.normpath(os.path.join(base, rel))]) == base


def belongs_to(test: Mapping[str, Any], owner: str, name: str | None) -> bool:
    """Whether a golden's manifest ``test`` entry is this owner's (and this name's, where it was recorded)."""
    if test.get("owner") != owner:
        return False
    return "name" not in test or test.get("name") == name
