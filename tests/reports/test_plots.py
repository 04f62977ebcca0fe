"""Figures: written as PNG + PDF, sane sizes, byte-identical reruns, one compared with a stored thumbnail
(regenerate with UPDATE_GOLDEN=1)."""

import json
import os
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from reports.figures.bars import plot_delta_bars
from reports.figures.masks import plot_masks
from reports.figures.sensitivity import plot_sensitivity
from reports.load import load_runs
from reports.plots import plot_all
from reports.style import COLUMN_WIDTH

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


# ---------------------------------------------------------------------------- the rules of every figure

EXAMPLES = Path(__file__).parents[2] / "reports" / "examples"
PAIR_GOLDEN = GOLDEN.parent / "pair_thumb.png"


def _texts(fig):
    """(axes or None, text, window box) of every text the figure draws (tick labels within the view only)."""
    renderer = fig.canvas.get_renderer()
    out = [(None, t) for t in fig.texts]
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        out += [(ax, t) for t in (*ax.texts, ax.title, ax._left_title, ax._right_title, ax.xaxis.label, ax.yaxis.label)]
        for axis, (lo, hi) in ((ax.xaxis, sorted(ax.get_xlim())), (ax.yaxis, sorted(ax.get_ylim()))):
            for tick in axis.get_major_ticks():
                if lo - 1e-9 <= tick.get_loc() <= hi + 1e-9 and tick.label1.get_visible():
                    out.append((ax, tick.label1))
        legend = ax.get_legend()
        if legend is not None:
            out += [(ax, t) for t in legend.get_texts()]
    from matplotlib.text import Text

    # Text's own box: an annotation's box would include its leader line
    return [(ax, t, Text.get_window_extent(t, renderer)) for ax, t in out if t.get_visible() and t.get_text().strip()]


def figure_problems(fig) -> list[str]:
    """What a reviewer would flag: fonts under 7 pt, texts on top of each other, legends over the data area."""
    fig.canvas.draw()
    texts = _texts(fig)
    problems = [f"{t.get_text()!r}: {t.get_fontsize()} pt" for _, t, _ in texts if t.get_fontsize() < 7]
    for i, (_, a, box_a) in enumerate(texts):
        for _, b, box_b in texts[i + 1 :]:
            w = min(box_a.x1, box_b.x1) - max(box_a.x0, box_b.x0)
            h = min(box_a.y1, box_b.y1) - max(box_a.y0, box_b.y0)
            if w > 1 and h > 1:
                problems.append(f"{a.get_text()!r} overlaps {b.get_text()!r}")
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes:
        legend = ax.get_legend()
        if legend is not None and legend.get_window_extent(renderer).overlaps(ax.get_window_extent(renderer)):
            problems.append(f"legend inside the axes of {ax.get_title()!r}")
    return problems


@pytest.fixture
def drawn(monkeypatch):
    """(file name, problems) of every PNG figure saved while the fixture is active."""
    from matplotlib.figure import Figure

    seen = []
    real = Figure.savefig

    def savefig(self, fname, *args, **kwargs):
        if str(fname).endswith(".png"):
            seen.append((Path(fname).name, figure_problems(self)))
        return real(self, fname, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", savefig)
    return seen


def test_example_figures_have_no_small_fonts_overlaps_or_legends_on_data(tmp_path, drawn):
    """The committed NEON records: every figure readable at one column, nothing on top of anything."""
    written = plot_all(load_runs([EXAMPLES / "neon" / "records"]), tmp_path, masks=False)
    assert {"delta_map.png", "speed_accuracy.png"} <= {p.name for p in written}
    assert sum(n.startswith("pair_") for n, _ in drawn) == 1 and sum(n.startswith("map_curves_") for n, _ in drawn) == 1
    assert [(name, problems) for name, problems in drawn if problems] == []
    for png in (p for p in written if p.suffix == ".png"):
        check_figure(png)


def test_synthetic_figures_follow_the_same_rules(cmp_sweep, tmp_path, drawn, rec):
    for seed in (0, 1):
        for temp in (0.3, 0.7):
            cfg = rec.make_config(seed=seed, method="dfmsd", teacher="teacher_t", options={"temp": temp})
            rec.write_run(cmp_sweep, cfg, mAP=0.33 + temp / 10)
    plot_all(load_runs([cmp_sweep]), tmp_path, masks=False)
    assert any(n.startswith("sensitivity_") for n, _ in drawn)
    assert [(name, problems) for name, problems in drawn if problems] == []


def test_delta_bars_sorted_by_mean_with_t_interval(cmp_sweep):
    from reports.figures.common import deltas, pairs

    frame = load_runs([cmp_sweep])
    (pair,) = pairs(frame)
    rows = deltas(frame, pair)
    # DFMSD +3, +5, +4 → mean 4, s = 1, n = 3: t(0.975, 2) · 1 / √3; FGD +2 each: no spread
    assert [(d.shown.label, d.n) for d in rows] == [("DFMSD", 3), ("FGD", 3)]
    assert rows[0].mean == pytest.approx(4.0) and rows[0].half_width == pytest.approx(4.302652729749464 / 3**0.5)
    assert rows[1].half_width == pytest.approx(0.0)


def _eval_rows(its, split=None, scale=1.0):
    return [{"iter": it, "mAP": scale * it / 100, **({"split": split} if split else {})} for it in its]


def test_map_curves_use_the_periodic_split_and_points_for_final_only(tmp_path, rec):
    import matplotlib.pyplot as plt

    from reports.figures.common import pairs
    from reports.figures.curves import FINAL_ONLY, draw_map_curves, eval_series

    sweep = tmp_path / "s"
    for seed in (0, 1):
        periodic = {"train": [], "eval": _eval_rows((10, 20, 30), "val") + _eval_rows((40,), "test", 2.0)}
        final = {"train": [], "eval": _eval_rows((40,))}
        rec.write_run(sweep, rec.make_config(seed=seed), mAP=0.3, curves=periodic)
        cfg = rec.make_config(seed=seed, method="fgd", teacher="t")
        rec.write_run(sweep, cfg, mAP=0.4, teacher_mAP=0.5, curves=final)
    frame = load_runs([sweep])
    (pair,) = pairs(frame)
    alone = eval_series(pair.alone.cond.finished["run_dir"].tolist())
    assert alone.split == "val" and list(alone.data.index) == [10.0, 20.0, 30.0]  # the test row is not on it
    fig, ax = plt.subplots()
    ends = draw_map_curves(ax, pair, end_labels=False)
    # the teacher's record is not beside the runs: its test mAP, as the distilled runs recorded it, says so
    assert [e.text for e in ends] == ["student alone", "FGD", "teacher (test)"] and ends[-1].y == pytest.approx(50)
    assert "val split" in ax.get_ylabel()
    fgd_lines = [ln for ln in ax.get_lines() if ln.get_color() == pair.methods[0].look.color]
    assert fgd_lines and all(len(ln.get_xdata()) == 1 for ln in fgd_lines)  # a point, not a line
    assert not any(t.get_text() == FINAL_ONLY for t in ax.texts)  # one condition has a real curve
    plt.close(fig)

    # with the teacher's record beside them: its last evaluation on the curves' split
    fgd_run = Path(pair.methods[0].cond.finished["run_dir"].iloc[0])
    teacher_id = yaml.safe_load((fgd_run / "resolved.yaml").read_text())["stages"][-1]["teacher_run"]
    (sweep / "runs" / teacher_id).mkdir()
    rows = _eval_rows((20, 40), "val", 3.0) + _eval_rows((40,), "test", 9.0)
    (sweep / "runs" / teacher_id / "metrics.json").write_text(json.dumps({"curves": {"eval": rows}}))
    fig, ax = plt.subplots()
    ends = draw_map_curves(ax, pair, end_labels=False)
    assert ends[-1].text == "teacher" and ends[-1].y == pytest.approx(120)  # 3.0 * 40 / 100 -> 120 %
    plt.close(fig)


def test_captions_name_every_figure_and_the_intervals(cmp_sweep, tmp_path):
    written = plot_all(load_runs([cmp_sweep]), tmp_path, masks=False)
    captions = (tmp_path / "captions.md").read_text()
    for png in (p for p in written if p.suffix == ".png"):
        assert f"`{png.name}`" in captions
    assert "95 % t-interval" in captions and "± 1 s.d." in captions


def test_pair_figure_matches_golden_thumbnail(cmp_sweep, tmp_path):
    """The multi-panel pair figure (curves + Δ bars), rendered at 40 dpi."""
    from reports.figures.pair import plot_pair_figures

    (png, pdf) = plot_pair_figures(load_runs([cmp_sweep]), tmp_path, dpi=40)
    assert png.name == "pair_teacher_t_to_retina_s.png" and pdf.is_file()
    thumb = np.asarray(Image.open(png).convert("L"), dtype=np.float64)
    if os.environ.get("UPDATE_GOLDEN") == "1":
        Image.fromarray(thumb.round().astype(np.uint8)).save(PAIR_GOLDEN)
    golden = np.asarray(Image.open(PAIR_GOLDEN).convert("L"), dtype=np.float64)
    assert thumb.shape == golden.shape
    assert np.abs(thumb - golden).mean() < 6.0  # of 255: fonts may differ slightly across machines


def test_loss_panels_leave_out_zero_terms_and_a_single_kd_total(tmp_path, rec):
    from reports.figures.curves import loss_series

    train = [{"iter": it, "loss": 2.0 / it, "loss_cls": 1.0 / it, "kd": 1.0 / it, "kd/mimic/p3": 1.0 / it,
              "lr": 0.01, "time_s": 0.1} for it in (10, 20)]  # fmt: skip
    run = rec.write_run(tmp_path / "s", rec.make_config(method="mimic", teacher="t"), mAP=0.3,
                        curves={"train": train, "eval": []})  # fmt: skip
    assert sorted(loss_series([str(run)])) == ["kd/mimic", "loss", "loss_cls"]
    zero = [{**row, "kd": 0.0, "kd/mimic/p3": 0.0} for row in train]
    run = rec.write_run(tmp_path / "t", rec.make_config(), mAP=0.3, curves={"train": zero, "eval": []})
    assert sorted(loss_series([str(run)])) == ["loss", "loss_cls"]
