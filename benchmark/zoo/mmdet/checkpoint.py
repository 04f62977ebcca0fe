"""mmdet / mmengine checkpoints under torch's ``weights_only=True`` loading, with a scoped allow-list.

Checkpoints written by mmengine's Runner hold more than tensors: ``message_hub`` keeps
:class:`mmengine.logging.HistoryBuffer` objects of numpy arrays, and ``meta`` may hold numpy scalars.
torch >= 2.6 refuses those by default. Rather than ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` (which turns the
check off for the whole process), :func:`mm_safe_globals` allows exactly these types, only inside a
``with`` block; everything else a pickle asks for is still refused.
"""

from __future__ import annotations

import contextlib
import pickle
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn


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
    """Within the block, ``torch.load(weights_only=True)`` also accepts mmengine checkpoints' numpy/log types."""
    with torch.serialization.safe_globals(_safe_types()):
        yield


def load_state_dict_file(path: str | Path) -> dict[str, Tensor]:
    """The model weights in ``path``: an mmdet/mmengine checkpoint (``state_dict`` key) or a bare state dict.

    Loaded on the CPU with ``weights_only=True``; a DDP ``module.`` prefix is dropped.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path}: no such file")
    with mm_safe_globals():
        obj = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    elif isinstance(obj, dict) and isinstance(obj.get("model"), dict):
        obj = obj["model"]
    if not isinstance(obj, dict) or not all(isinstance(v, Tensor) for v in obj.values()):
        raise ValueError(f"checkpoint {path}: holds no state dict of tensors")
    return {k.removeprefix("module."): v for k, v in obj.items()}


def load_weights(
    module: nn.Module, path: str | Path, *, prefixes: Iterable[str] | None = None, strict: bool = True
) -> list[str]:
    """Load ``path`` into ``module``; with ``prefixes`` only the keys that start with one of them.

    Shape mismatches are always errors. With ``strict``, so are weights of ``module`` (under ``prefixes``)
    that the checkpoint lacks. Returns the checkpoint keys that ``module`` has no place for.
    """
    state = load_state_dict_file(path)
    wanted = tuple(prefixes) if prefixes else None
    if wanted:
        state = {k: v for k, v in state.items() if k.startswith(wanted)}
        if not state:
            raise ValueError(f"checkpoint {path}: no weights under {list(wanted)}")
    own = module.state_dict()
    bad = [
        f"{k} {tuple(v.shape)} vs {tuple(own[k].shape)}"
        for k, v in state.items()
        if k in own and own[k].shape != v.shape
    ]
    if bad:
        raise ValueError(f"checkpoint {path}: shapes differ from the model (first: {bad[0]}; {len(bad)} in all)")
    missing = [k for k in own if k not in state and (wanted is None or k.startswith(wanted))]
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if strict and missing:
        raise ValueError(f"checkpoint {path}: lacks {len(missing)} weights of the model (first: {missing[0]})")
    module.load_state_dict(state, strict=False)
    return sorted(k for k in state if k not in own)
