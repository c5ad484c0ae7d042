"""Exceptions whose message is written for the person who runs pytest."""

from __future__ import annotations


class EdgeQAError(Exception):
    """Base class: the message is complete, names what was wrong and where, and is shown as is."""


class ConfigError(EdgeQAError):
    """A bad command-line option, ini value or marker argument."""


class ModelError(EdgeQAError):
    """A model file that is missing, unreadable, or that a runtime cannot compile."""


class InputError(EdgeQAError, ValueError):
    """Inputs given to ``infer`` that do not match the model's input specs."""


class RunError(EdgeQAError):
    """An error a runtime raised while running a model: the message names the model, the device, the
    inputs fed (shapes and dtypes) and gives the runtime's own words."""


class DeviceUnavailable(EdgeQAError):
    """A requested device that the runtime does not report."""


class FallbackError(EdgeQAError):
    """A model that compiled, but not on the device that was asked for."""


class Unsupported(EdgeQAError):
    """A combination that cannot run by design (e.g. OpenVINO IR on ONNX Runtime): a skip, not a failure."""


class NotHonoured(Unsupported):
    """A model that compiled, but reads back other settings than asked (a precision the device cannot
    run, fewer streams than asked): a skip, never a pass at settings nobody asked for."""


class RequiredNotHonoured(EdgeQAError):
    """``NotHonoured`` under --edge-require-devices: a failure."""


class CheckFailed(EdgeQAError):
    """A check ran and its budget does not hold: the message is the full report (KL divergence, generation)."""
