"""Every figure a report's records allow (``dfmsd-bench plot``), in the visual language of :mod:`reports.style`,
each as PNG (300 dpi) and vector PDF, plus ``captions.md`` with one caption per figure (the interval types
included). The same records give byte-identical files.

Figures (modules of :mod:`reports.figures`): loss terms per condition (``curves_*``), mAP against iteration
per pair (``map_curves_*``), Δ-mAP bars (``delta_map``), speed/accuracy (``speed_accuracy``), sensitivity
per swept hyperparameter (``sensitivity_*``) and the multi-panel figure per pair (``pair_*``, with the masks of
a DFMSD/DMKD run of the pair when its checkpoints are still there). The mask figure of a chosen run
(:func:`plot_masks`, ``plot --masks``) needs a model and is drawn on request.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from reports.figures.bars import plot_delta_bars
from reports.figures.common import pairs
from reports.figures.curves import plot_loss_curves, plot_map_curves
from reports.figures.masks import plot_masks
from reports.figures.pair import mask_run, plot_pair_figures
from reports.figures.sensitivity import plot_sensitivity
from reports.figures.speed import plot_speed_accuracy

if TYPE_CHECKING:
    from reports.masks import MaskInputs

__all__ = ["CAPTIONS", "plot_all", "plot_masks", "pair_masks", "write_captions"]

CAPTIONS = {
    "curves_": "Training loss terms of one condition (KD terms summed over FPN levels) against iteration: mean "
    "over seeds, band ± 1 s.d.; dotted: where a stage of a stage-wise run begins.",
    "map_curves_": "mAP against iteration for the student alone and every method of the pair on the evaluation "
    "rows the runs recorded (curves.eval; the split is named on the axis): mean over seeds, band ± 1 s.d.; a "
    "condition with only its final evaluation is a point (error bar ± 1 s.d.); dashed: the teacher's mAP on the "
    "same split (its own record's last evaluation; labelled 'teacher (test)' when only its test mAP is known).",
    "delta_map": "Δ mAP (the split is named on the axis) of each method over the same student trained alone, "
    "paired by seed, one panel per "
    "teacher→student pair, sorted by mean; whiskers: 95 % t-interval over seeds (t with n−1 degrees of "
    "freedom); none for a single seed.",
    "speed_accuracy": "mAP against inference GFLOPs (top) and training step time (bottom), log scales, one point "
    "per condition including the teachers; error bars ± 1 s.d. over seeds.",
    "sensitivity_": "mAP against a swept hyperparameter, one line per setting of the other axes; error bars ± 1 "
    "s.d. over seeds; dashed grey: the student alone.",
    "pair_": "One figure per teacher→student pair: (a) mAP against iteration, mean ± 1 s.d. over seeds, dashed: "
    "teacher; (b) Δ mAP over the student alone, sorted, whiskers: 95 % t-interval over seeds; (c), when present: "
    "teacher attention, enhanced attention, spatial and channel masks per FPN level of one test image for a "
    "DFMSD/DMKD run of the pair.",
}


def pair_masks(frame: pd.DataFrame, *, warn: Callable[[str], None] = print) -> dict[str, MaskInputs]:
    """Pair name → mask inputs of the run :func:`reports.figures.pair.mask_run` picks (pairs without such a run
    are left out; a run whose masks cannot be rebuilt is reported through ``warn`` and left out)."""
    out: dict[str, MaskInputs] = {}
    for pair in pairs(frame):
        run = mask_run(pair)
        if run is None:
            continue
        from reports.masks import mask_inputs_from_run

        try:
            out[pair.name] = mask_inputs_from_run(run)
        except (OSError, ValueError, KeyError, IndexError) as exc:
            warn(f"warning: pair figure {pair.name}: no mask panel ({run.name}: {exc})")
    return out


def write_captions(out_dir: str | Path, figures: list[Path]) -> Path:
    """``<out_dir>/captions.md``: per kind of figure among the PNGs of ``figures``, its caption and its files
    (each also as ``.pdf``)."""
    pngs = sorted(p.name for p in figures if p.suffix == ".png")
    lines = ["# Figures", "", "Each figure is a PNG (300 dpi) and a vector PDF of the same name.", ""]
    for prefix, caption in CAPTIONS.items():
        names = [n for n in pngs if n.startswith(prefix)]
        if names:
            lines += [f"- {caption}", *(f"  - `{n}`" for n in names)]
    other = [n for n in pngs if not any(n.startswith(prefix) for prefix in CAPTIONS)]
    lines += [f"- `{n}`" for n in other]
    path = Path(out_dir) / "captions.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8", newline="\n")
    return path


def plot_all(
    frame: pd.DataFrame, out_dir: str | Path, *, masks: bool = True, warn: Callable[[str], None] = print
) -> list[Path]:
    """Every figure the records allow and ``captions.md``; ``masks=False`` skips rebuilding the models of the
    pair figures' mask panels."""
    written = plot_loss_curves(frame, out_dir)
    written += plot_map_curves(frame, out_dir)
    written += plot_delta_bars(frame, out_dir)
    written += plot_speed_accuracy(frame, out_dir)
    written += plot_sensitivity(frame, out_dir)
    written += plot_pair_figures(frame, out_dir, pair_masks(frame, warn=warn) if masks else None)
    written.append(write_captions(out_dir, written))
    return sorted(written)
