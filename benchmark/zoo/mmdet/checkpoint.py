"""mmdet / mmengine checkpoints under torch's ``weights_only=True`` loading, with the scoped allow-list of
:func:`benchmark.checkpoints.mm_safe_globals` (mmengine's numpy and log types, nothing else)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import torch
from torch import Tensor, nn

from benchmark.checkpoints import mm_safe_globals


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
