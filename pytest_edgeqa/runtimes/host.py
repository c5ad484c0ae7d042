"""The host CPU as results and reports name it: its marketing name and the flags that change numerics."""

from __future__ import annotations

import platform
import re


def _cpuinfo(field: str) -> str | None:
    """The first value of ``field`` in /proc/cpuinfo (Linux); None elsewhere."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith(field):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def cpu_name() -> str:
    """The host CPU's marketing name, else what ``platform`` knows."""
    return _cpuinfo("model name") or platform.processor() or platform.machine()


_NUMERIC_FLAGS = re.compile(r"^(avx2|fma|f16c|avx512\w*|avx_vnni\w*|amx\w*|sse4_2)$")


def cpu_features() -> list[str]:
    """The CPU flags that change numerics: vector widths, VNNI, AMX, bf16/fp16 support."""
    flags = _cpuinfo("flags")
    if flags is None:
        return [platform.machine()]
    return sorted({f for f in flags.split() if _NUMERIC_FLAGS.match(f)})
