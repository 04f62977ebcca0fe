"""Figures: written as PNG + PDF, sane sizes, byte-identical reruns, one compared with a stored thumbnail
(regenerate with UPDATE_GOLDEN=1)."""

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from reports.load import load_runs
from reports.plots import COLUMN_WIDTH, plot_all, plot_delta_bars, plot_masks, plot_sensitivity

GOLDEN = Path(__file__).parents[1] / "fixtures" / "reports" / "delta_map_thumb.png"
THUMB_WIDTH = 96


def thumbnail(path: Path) -> np.ndarray:
    img = Image.open(path).convert("L")
    height = round(img.height * THUMB_WIDTH / img.width)
    return np.asarray(img.resize((THUMB_WIDTH, height), Image.Resampling.LANCZOS), dtype=np.float64)


def check_figure(png: Path) -> None:
    assert png.is_file() and png.with_suffix(".pdf").is_file()
    assert 5_000 < png.stat().st_size < 3_000_000 and 3_000 < png.with_suffix(".pdf").stat().st_size < 1_000_000
    width = Image.open(png).width
    assert 0.7 * COLUMN_WIDTH * 300 < width < 1.15 * COLUMN_WIDTH * 300  # one paper column at 300 dpi
    assert b"CreationDate" not in png.with_suffix(".pdf").read_bytes()


def test_all_figures_written_and_deterministic(cmp_sweep, tmp_path):
    frame = load_runs([cmp_sweep])
    first = plot_all(frame, tmp_path / "a")
    second = plot_all(frame, tmp_path / "b")
    names = sorted(p.name for p in first)
    assert names == sorted(p.name for p in second)
    assert {"delta_map.png", "speed_accuracy.png"} <= set(names)
    assert sum(n.startswith("curves_") and n.endswith(".png") for n in names) == 3  # none, FGD, DFMSD
    for png in (p for p in first if p.suffix == ".png"):
        check_figure(png)
    for a, b in zip(sorted(first), sorted(second)):
        assert a.read_bytes() == b.read_bytes(), a.name


def test_delta_bars_match_golden_thumbnail(cmp_sweep, tmp_path):
    (png, _) = plot_delta_bars(load_runs([cmp_sweep]), tmp_path)
    thumb = thumbnail(png)
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(thumb.round().astype(np.uint8)).save(GOLDEN)
    golden = np.asarray(Image.open(GOLDEN).convert("L"), dtype=np.float64)
    assert thumb.shape == golden.shape
    assert np.abs(thumb - golden).mean() < 6.0  # of 255: fonts may differ slightly across machines


def test_sensitivity_plot(tmp_path, rec):
    sweep = tmp_path / "sens"
    for seed in (0, 1):
        rec.write_run(sweep, rec.make_config(seed=seed), mAP=0.30)
        for temp, v in ((0.3, 0.32), (0.5, 0.35), (1.0, 0.33)):
            cfg = rec.make_config(seed=seed, method="dfmsd", teacher="t", options={"temp": temp})
            rec.write_run(sweep, cfg, mAP=v + 0.01 * seed)
    written = plot_sensitivity(load_runs([sweep]), tmp_path / "f")
    assert [p.name for p in written] == ["sensitivity_sens_temp.png", "sensitivity_sens_temp.pdf"]
    check_figure(written[0])


def test_plot_masks_pure(tmp_path):
    rng = np.random.default_rng(0)
    per_level = {}
    for name, size in (("p3", 16), ("p4", 8), ("p5", 4)):
        att = rng.random((size, size))
        per_level[name] = {
            "attention_spatial": att,
            "attention_enhanced": att * 1.5,
            "mask_spatial": (att < 0.6).astype(float),
            "attention_channel": rng.random(8),
            "mask_channel": (rng.random(8) > 0.5).astype(float),
        }
    image = rng.random((3, 64, 64))
    written = plot_masks(image, np.array([[4.0, 4.0, 30.0, 20.0]]), per_level, tmp_path / "masks", title="t")
    assert [p.name for p in written] == ["masks.png", "masks.pdf"]
    check_figure(written[0])


@pytest.mark.parametrize("layout", ["chw", "hwc"])
def test_plot_masks_accepts_both_image_layouts(tmp_path, layout):
    image = np.zeros((3, 32, 32)) if layout == "chw" else np.zeros((32, 32, 3))
    level = {"attention_spatial": np.ones((4, 4)), "attention_enhanced": np.ones((4, 4)),
             "mask_spatial": np.ones((4, 4)), "attention_channel": np.ones(4)}  # fmt: skip
    assert plot_masks(image, np.zeros((0, 4)), {"p3": level}, tmp_path / layout)[0].is_file()
