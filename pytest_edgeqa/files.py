"""Files nothing may lose: atomic writes (temporary file, fsync, rename) with the umask's permissions,
and removal of the temporary files that killed writers left behind."""

from __future__ import annotations

import hashlib
import os
import re
import socket
import tempfile
import time
from pathlib import Path


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


UMASK = _current_umask()

_HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]
_TMP_NAME = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)-(?P<host>[0-9a-f]{8})-[^.]+\.tmp$")
_OLD_TMP_NAME = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")  # what versions before 0.2 left beside a golden
STALE_TMP_S = 3600.0  # another host's (or an old version's) temporary file older than this is a leftover


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # it exists, owned by someone else
    return True


def _leftover(entry: Path, now: float) -> bool:
    """A temporary file whose writer is gone: a dead process on this host, or older than STALE_TMP_S."""
    try:
        age = now - entry.stat().st_mtime
    except OSError:
        return False
    m = _TMP_NAME.match(entry.name)
    if m is None:
        return _OLD_TMP_NAME.match(entry.name) is not None and age > STALE_TMP_S
    if m["host"] == _HOST and os.name == "posix":  # os.kill(pid, 0) would terminate the process on Windows
        return not _alive(int(m["pid"]))
    return age > STALE_TMP_S


def clean_leftovers(*folders: Path) -> list[Path]:
    """Remove the temporary files of killed writes from ``folders``; live writers' files stay."""
    removed = []
    now = time.time()
    for folder in folders:
        try:
            entries = [e for e in folder.iterdir() if e.name.endswith(".tmp") and e.is_file()]
        except OSError:
            continue
        for entry in entries:
            if _leftover(entry, now):
                entry.unlink(missing_ok=True)
                removed.append(entry)
    return removed


def write_atomic(path: Path, data: bytes | str, tmp_dir: Path | None = None) -> None:
    """Temporary file (in ``tmp_dir``, on the same file system, else beside ``path``), fsync, rename: a
    reader sees the old file or the new one. The file gets the permissions the umask gives any new file
    (mkstemp alone makes 0600). Leftovers of killed writes there, and beside ``path``, are removed first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    folder = tmp_dir if tmp_dir is not None else path.parent
    clean_leftovers(*{folder, path.parent})
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}-{_HOST}-", suffix=".tmp", dir=folder)
    try:
        os.chmod(tmp, 0o666 & ~UMASK)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def sha256_of(*files: Path) -> str:
    """sha256 of the files' bytes, one after another, read in 1 MiB blocks."""
    h = hashlib.sha256()
    for path in files:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()
