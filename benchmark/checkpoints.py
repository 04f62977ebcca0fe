"""Torch files that users and runs hand over (checkpoints, weights), read safely with one-line refusals.

:func:`load_torch_file` is ``torch.load(..., weights_only=True)`` (retried inside :func:`mm_safe_globals`, the
allow-list of the numpy and log types mmengine checkpoints hold, when mmengine is installed); a file that needs
arbitrary code to load is refused as ``refused to load <file>: it is not a plain weights file (torch
weights_only)`` and a damaged one as ``cannot read <file>: ...`` (:class:`CheckpointError`); nothing in it runs.
:func:`check_weights_file` is the validator's version: the problem as a line, remembered per file state.
"""

from __future__ import annotations

import contextlib
import importlib.util
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmark.errors import UserError


def _history_buffer_getattr(obj: object, name: str) -> object:
    """The one ``getattr`` an mmengine checkpoint pickles: a statistics method of ``HistoryBuffer``.

    Bound to the name ``builtins.getattr`` for the unpickler only; any other attribute is refused, so
    allowing it does not open the general ``getattr`` escape that ``weights_only`` exists to block.
    """
    from mmengine.logging import HistoryBuffer

    if obj is HistoryBuffer and name in HistoryBuffer._statistics_methods:
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(f"checkpoint asks for getattr({obj!r}, {name!r}); refused")


def _safe_types() -> list[object]:
    """numpy's array/scalar reconstruction and dtype classes, mmengine's log buffer and its methods."""
    import numpy as np
    from mmengine.logging import HistoryBuffer

    core = np._core if hasattr(np, "_core") else np.core  # numpy 2 renamed np.core
    dtype_classes = [type(np.dtype(t)) for t in ("f2", "f4", "f8", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "?")]
    return [
        core.multiarray._reconstruct,
        core.multiarray.scalar,
        np.ndarray,
        np.dtype,
        *dtype_classes,
        HistoryBuffer,
        (_history_buffer_getattr, "builtins.getattr"),
    ]


@contextlib.contextmanager
def mm_safe_globals() -> Iterator[None]:
    """Within the block, ``torch.load(weights_only=True)`` also accepts mmengine checkpoints' numpy/log types.

    Checkpoints written by mmengine's Runner hold more than tensors: ``message_hub`` keeps
    :class:`mmengine.logging.HistoryBuffer` objects of numpy arrays, and ``meta`` may hold numpy scalars; rather
    than ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` (the check off for the whole process) exactly these types are
    allowed, only inside the block; everything else a pickle asks for is still refused."""
    import torch

    with torch.serialization.safe_globals(_safe_types()):
        yield


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
            with mm_safe_globals():  # an mmengine checkpoint's numpy/log types
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
