"""Golden values of every loss term for a fixed small input and a few configurations.

Stored in tests/fixtures/dfmsd/golden.json; regenerate only on purpose with ``UPDATE_GOLDEN=1``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from dfmsd import DFMSDLoss

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "dfmsd" / "golden.json"
CONFIGS = {
    "dfmsd_default": {},
    "dmkd": {"enhance": False, "sem_align": "none", "alpha": 2e-5},
    "adapter_channel_enhance": {"sem_align": "adapter", "enhance_channel": True, "gamma": 2.0},
    "cwd_free_masked": {"sem_align": "cwd", "fusion": "free", "loss_region": "masked", "mask_select": "bottom"},
    "loss_enhance_after": {"enhance_mode": "loss", "align_position": "after", "ratio_spatial": 0.45},
    "ratio_spatial_only": {"dual": "spatial", "enhance_mode": "ratio", "ratio_spatial": 0.5},
    "soft_fixed": {"mask_type": "soft", "fusion": "fixed", "sem_align": "none"},
    "bernoulli": {"mask_select": "bernoulli"},
}


def _compute(name: str, make_inputs) -> dict[str, float]:
    student, teacher, boxes, metas = make_inputs()
    torch.manual_seed(0)
    crit = DFMSDLoss(8, 12, **CONFIGS[name])
    terms = crit(student, teacher, boxes, metas, generator=torch.Generator().manual_seed(2))
    out = {k: float(v.detach()) for k, v in terms.items()}
    for key in ("spatial", "channel"):
        if key in crit.last_masks:
            out[f"kept_{key}"] = float(crit.last_masks[key].sum())
    return out


def test_golden_values(make_inputs):
    values = {name: _compute(name, make_inputs) for name in CONFIGS}
    if os.environ.get("UPDATE_GOLDEN") == "1":
        FIXTURE.parent.mkdir(parents=True, exist_ok=True)
        FIXTURE.write_text(json.dumps(values, indent=1, sort_keys=True) + "\n")
    stored = json.loads(FIXTURE.read_text())
    assert stored.keys() == values.keys()
    for name, terms in values.items():
        assert stored[name].keys() == terms.keys(), name
        for key, value in terms.items():
            assert value == pytest.approx(stored[name][key], rel=1e-5, abs=1e-9), (name, key)
