"""The errors sr-export reports as one clear line (no traceback): each names what went wrong.

A file that is no usable checkpoint raises the shared `uprez.runtime.base.weights.CheckpointError`,
and weights that fit no architecture its subclass `uprez.trainer.archs.detect.DetectionError`.
"""

from __future__ import annotations


class ExportFailure(Exception):
    """A checkpoint that cannot be exported; the message is meant for the user."""


class VerificationError(ExportFailure):
    """The exported ONNX model does not reproduce the PyTorch model closely enough."""
