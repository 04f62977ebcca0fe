"""Errors of the data layer: one line each, naming the file and the offending id or key."""

from __future__ import annotations

from benchmark.errors import UserError


class DatasetError(UserError, ValueError):
    """A dataset file is missing, malformed or inconsistent (the message names the file and the id/key)."""


class DownloadError(UserError, RuntimeError):
    """A pinned wheel could not be obtained with pip, or its sha256 does not match the pinned hash."""
