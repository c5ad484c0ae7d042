"""Declarative suites: ``*.edgeqa.yaml`` files validated against their schema and collected as test items,
one per check and device, run on the same engines as the markers.

reading (text and YAML within limits) -> schema (a ``Suite``, validated as the markers are) -> items (pytest
nodes) -> run (each item's check)."""

from .fields import SuiteError
from .items import SUFFIX, collect_file
from .schema import Suite, load

__all__ = ["SUFFIX", "Suite", "SuiteError", "collect_file", "load"]
