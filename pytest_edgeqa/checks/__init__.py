"""Every check's flow, one module per check kind: what the pytest layer and suites call to run one.

A new check kind is one new module here (its run_* function, using records.store_record and
inputs.declared_inputs), exported below."""

from __future__ import annotations

from .accuracy import run_accuracy_check
from .golden import run_golden
from .latency import conclude_latency, latency_schedule, run_latency_check
from .parity import ParityMismatch, run_parity, store_live_parity
from .records import store_record

__all__ = [
    "ParityMismatch",
    "conclude_latency",
    "latency_schedule",
    "run_accuracy_check",
    "run_golden",
    "run_latency_check",
    "run_parity",
    "store_live_parity",
    "store_record",
]
