"""Torch files that users and runs hand over (checkpoints, weights), read safely with one-line refusals.

:func:`load_torch_file` is ``torch.load(..., weights_only=True)`` (inside the mmengine allow-list of
:mod:`benchmark.zoo.mmdet.checkpoint`, which admits only the numpy and log types mmdet checkpoints hold); a file
that needs arbitrary code to load is refused as ``refused to load <file>: it is not a plain weights file (torch
weights_only)`` and a damaged one as ``cannot read <file>: ...`` (:class:`CheckpointError`); nothing in it runs.
:func:`check_weights_file` is the validator's version: the problem as a line, remembered per file state.
"""

from __future__ import annotations

import importlib.util
import pickle
from pathlib import Path
from typing import Any

from benchmark.errors import UserError


class CheckpointError(UserError, ValueError):
    """A checkpoint that cannot or must not be loaded; the message names the file."""


def load_torch_file(path: str | Path, *, map_location: str = "cpu", mmap: bool = False) -> Any:
    """The object in ``path`` loaded with ``weights_only=True``; :class:`CheckpointError` naming the file."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        try:
            return torch.load(path, map_location=map_location, weights_only=True, mmap=mmap)
        except pickle.UnpicklingError:
            if importlib.util.find_spec("mmengine") is None:
                raise
            from benchmark.zoo.mmdet.checkpoint import mm_safe_globals  # an mmengine checkpoint's numpy/log types

            with mm_safe_globals():
                return torch.load(path, map_location=map_location, weights_only=True, mmap=mmap)
    except pickle.UnpicklingError:
        raise CheckpointError(f"refused to load {path}: it is not a plain weights file (torch weights_only)") from None
    except (RuntimeError, EOFError, OSError, ValueError, KeyError) as exc:
        detail = " ".join(str(exc).split())[:160] or type(exc).__name__
        raise CheckpointError(f"cannot read {path}: {detail}") from None


_CHECKED: dict[tuple[str, int, int], str | None] = {}


def check_weights_file(path: Path) -> str | None:
    """None when ``path`` loads as plain weights, else the one-line problem (remembered per size and mtime)."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _CHECKED:
        try:
            load_torch_file(path)
            _CHECKED[key] = None
        except CheckpointError as exc:
            _CHECKED[key] = str(exc)
    return _CHECKED[key]
