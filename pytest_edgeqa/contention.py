"""CPU contention during a measurement window: Linux PSI, else the load average and involuntary context switches."""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

PSI_CPU = Path("/proc/pressure/cpu")
PROC_STAT = Path("/proc/stat")
TASKS = Path("/proc/self/task")

# Above this share of wall time with a task waiting for CPU, a breached budget is not trusted on its own.
# Measured on this project's 2-core machine: quiet windows read 0-4% (daemons, our own bookkeeping; a
# latency loop itself adds under 1%), one busy process competing with the measurement reads 20-50%, two
# read 100%. At 10% about one sample in ten can have waited, which is the tail p90 itself leaves out, so
# a p50/p90 breach measured under less is the model's. Tail percentiles are judged more strictly: see
# ``threshold``.
CONTENDED = 0.10

# The fallback's reading of involuntary context switches (this process, all threads): a latency loop on
# a quiet machine is preempted 3-50 times a second (kernel threads, timer work); a competing busy process
# adds about 100 a second on 2 cores, each costing the preempted thread about a scheduler slice (3-4 ms
# measured: the waiting share over the switch rate). So switches beyond QUIET_SWITCHES/s, times
# SWITCH_WAIT_S, estimate the share of time this process waited. A rough figure, hence PSI first.
QUIET_SWITCHES = 50.0
SWITCH_WAIT_S = 0.003


def threshold(percentile: float | None = None) -> float:
    """The pressure above which a breach of this percentile (None: a mean or a rate) may be the
    machine's: CONTENDED, or less for a tail, whose share beyond it (p99: 1%) a few stalls can fill."""
    if percentile is None:
        return CONTENDED
    return min(CONTENDED, 1 - percentile / 100)


def parse_psi_some(text: str) -> int | None:
    """The ``total`` of the ``some`` line of a PSI file (microseconds during which at least one task
    waited for the resource), or None when the text has none."""
    for line in text.splitlines():
        fields = line.split()
        if fields and fields[0] == "some":
            for item in fields[1:]:
                key, _, value = item.partition("=")
                if key == "total" and value.isdigit():
                    return int(value)
    return None


def parse_proc_stat(text: str, cpus: frozenset[int] | None = None) -> float | None:
    """Busy CPU time (seconds, everything but idle and iowait, steal included) summed over ``cpus``
    (their ``cpuN`` lines; None: the all-CPU line), from the text of /proc/stat."""
    hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    busy = 0
    found = False
    for line in text.splitlines():
        fields = line.split()
        if not fields or not fields[0].startswith("cpu"):
            continue
        name = fields[0][3:]
        if (cpus is None and name != "") or (cpus is not None and (not name.isdigit() or int(name) not in cpus)):
            continue
        values = [int(v) for v in fields[1:9] if v.isdigit()]
        if len(values) < 8:
            continue
        user, nice, system, _idle, _iowait, irq, softirq, steal = values
        busy += user + nice + system + irq + softirq + steal
        found = True
    return busy / hz if found else None


def parse_schedstat(text: str) -> tuple[int, int] | None:
    """(ns on a CPU, ns waiting on a run queue) from a /proc/<pid>/task/<tid>/schedstat line."""
    fields = text.split()
    if len(fields) >= 2 and fields[0].isdigit() and fields[1].isdigit():
        return int(fields[0]), int(fields[1])
    return None


def _threads(task_dir: Path) -> dict[str, tuple[int, int]] | None:
    """Per thread of this process: (ns run, ns waited for a CPU), or None where the kernel has no schedstat."""
    try:
        tids = [p.name for p in task_dir.iterdir()]
    except OSError:
        return None
    out = {}
    for tid in tids:
        got = parse_schedstat(_read(task_dir / tid / "schedstat") or "")
        if got is not None:
            out[tid] = got
    return out or None


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        return None


def usable_cpus() -> frozenset[int] | None:
    """The CPUs this process may run on (its affinity mask), where the platform tells."""
    try:
        return frozenset(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None


@dataclass(frozen=True)
class Probe:
    """What the counters read at one instant; two probes bracket a measurement window."""

    wall: float
    psi_some_us: int | None
    nivcsw: int | None
    load1: float | None
    own_cpu_s: float
    busy_s: float | None  # busy time of the usable CPUs, from /proc/stat
    threads: dict[str, tuple[int, int]] | None = None  # this process's threads: (ns run, ns waited)


def probe(psi_path: Path = PSI_CPU, stat_path: Path = PROC_STAT, task_dir: Path = TASKS) -> Probe:
    psi_text = _read(psi_path)
    stat_text = _read(stat_path)
    try:
        import resource

        nivcsw: int | None = resource.getrusage(resource.RUSAGE_SELF).ru_nivcsw
    except ImportError:  # Windows
        nivcsw = None
    try:
        load1: float | None = os.getloadavg()[0]
    except (AttributeError, OSError):
        load1 = None
    return Probe(
        wall=time.perf_counter(),
        psi_some_us=parse_psi_some(psi_text) if psi_text is not None else None,
        nivcsw=nivcsw,
        load1=load1,
        own_cpu_s=time.process_time(),
        busy_s=parse_proc_stat(stat_text, usable_cpus()) if stat_text is not None else None,
        threads=_threads(task_dir),
    )


@dataclass(frozen=True)
class Contention:
    """How contended the CPU was during one window: ``pressure`` is the share of wall time (0..1) that
    some task waited for a CPU (None: the platform cannot tell), with where the figure came from."""

    pressure: float | None
    source: str  # "psi" | "loadavg+nivcsw" | "cpu-time" | "unavailable"
    seconds: float
    detail: dict[str, float] = field(default_factory=dict)
    # Share of this process's runnable thread time spent waiting for a CPU (schedstat), where known: how
    # much a sample's own time can have been stretched. None: not known, and the pressure stands in.
    own_wait: float | None = None

    @property
    def stretch(self) -> float:
        """The share of a sample's time that can have been waiting: ``own_wait``, else ``pressure``."""
        share = self.own_wait if self.own_wait is not None else self.pressure
        return min(1.0, max(0.0, share or 0.0))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        if self.pressure is None:
            return "CPU contention unknown (no PSI, load average or context switch counters here)"
        what = {
            "psi": "PSI some",
            "loadavg+nivcsw": "estimated from the load average and involuntary context switches",
            "cpu-time": "CPU time other processes took",
        }.get(self.source, self.source)
        own = f"; this process's threads waited {self.own_wait:.0%} of their time" if self.own_wait is not None else ""
        return f"CPU pressure {self.pressure:.0%} ({what}, over {self.seconds:.1f} s{own})"


def fallback_pressure(load1: float | None, cpus: int, switches_per_s: float | None) -> float | None:
    """Where PSI is absent: the larger of the load average's excess over the CPUs (three runnable tasks
    on two CPUs: 0.5, as PSI reads it) and the waiting share the involuntary switch rate implies. The load
    average lags by a minute; the switch rate sees a burst at once."""
    shares = []
    if load1 is not None and cpus > 0:
        shares.append((load1 - cpus) / cpus)
    if switches_per_s is not None:
        shares.append((switches_per_s - QUIET_SWITCHES) * SWITCH_WAIT_S)
    if not shares:
        return None
    return min(1.0, max(0.0, *shares))


def own_wait_share(before: dict[str, tuple[int, int]] | None, after: dict[str, tuple[int, int]] | None) -> float | None:
    """Of the time this process's threads were runnable during the window, the share they waited for a CPU."""
    if before is None or after is None:
        return None
    run = wait = 0
    for tid, (r1, w1) in after.items():
        r0, w0 = before.get(tid, (0, 0))
        run += max(r1 - r0, 0)
        wait += max(w1 - w0, 0)
    return wait / (run + wait) if run + wait > 0 else None


def between(before: Probe, after: Probe, *, cpus: int | None = None, saturating: bool = False) -> Contention:
    """The contention of the window between two probes.

    ``saturating``: the measurement itself keeps every CPU busy (throughput mode: a stream per core plus
    the thread that feeds them), so PSI, the load average and the switch count mostly see our own
    threads waiting on each other. There the figure is the CPU time other processes took on the CPUs
    we may use, as a share of those CPUs' time (from /proc/stat, steal included)."""
    found = _between(before, after, cpus=cpus, saturating=saturating)
    own = own_wait_share(before.threads, after.threads)
    return replace(found, own_wait=None if own is None else round(own, 4))


def _between(before: Probe, after: Probe, *, cpus: int | None, saturating: bool) -> Contention:
    seconds = max(after.wall - before.wall, 1e-9)
    usable = usable_cpus()
    n = cpus or (len(usable) if usable else os.cpu_count() or 1)
    if saturating:
        if before.busy_s is None or after.busy_s is None:
            return Contention(None, "unavailable", seconds)
        foreign = (after.busy_s - before.busy_s) - (after.own_cpu_s - before.own_cpu_s)
        share = min(1.0, max(0.0, foreign / (seconds * n)))
        return Contention(share, "cpu-time", seconds, {"foreign_cpu_s": round(max(foreign, 0.0), 4), "cpus": n})
    if before.psi_some_us is not None and after.psi_some_us is not None:
        stalled = (after.psi_some_us - before.psi_some_us) / 1e6
        return Contention(min(1.0, max(0.0, stalled / seconds)), "psi", seconds, {"stalled_s": round(stalled, 4)})
    rate: float | None = None
    if before.nivcsw is not None and after.nivcsw is not None:
        rate = (after.nivcsw - before.nivcsw) / seconds
    load = after.load1
    estimate = fallback_pressure(load, n, rate)
    if estimate is None:
        return Contention(None, "unavailable", seconds)
    detail: dict[str, float] = {"cpus": n}
    if load is not None:
        detail["load1"] = round(load, 2)
    if rate is not None:
        detail["nivcsw_per_s"] = round(rate, 1)
    return Contention(estimate, "loadavg+nivcsw", seconds, detail)


class Window:
    """``with Window(...) as w: ...`` then ``w.contention``: probes around a block of code."""

    def __init__(
        self, *, saturating: bool = False, psi_path: Path = PSI_CPU, stat_path: Path = PROC_STAT, task_dir: Path = TASKS
    ) -> None:
        self.saturating = saturating
        self.paths = (psi_path, stat_path, task_dir)
        self.contention: Contention = Contention(None, "unavailable", 0.0)

    def __enter__(self) -> Window:
        self._before = probe(*self.paths)
        return self

    def __exit__(self, *exc: object) -> None:
        self.contention = between(self._before, probe(*self.paths), saturating=self.saturating)
