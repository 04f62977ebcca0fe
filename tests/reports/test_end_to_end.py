"""Real records: a tiny sweep through the harness and the trainer, then `report` and `plot --masks`."""

import pytest
import yaml

from benchmark.cli import main
from reports.load import load_runs

SWEEP = {
    "name": "e2e",
    "base": {
        "data": {"dataset": "synthetic", "input_size": 64, "synthetic_images": 4, "synthetic_size": 64,
                 "synthetic_classes": 2, "hflip": False},
        "model": {"name": "retinanet_mnv2_fpn64", "options": {"pretrained_backbone": False, "fpn_channels": 32}},
        "train": {"iterations": 4, "batch_size": 2, "optimizer": "adamw", "lr": 0.001, "warmup_iters": 1,
                  "checkpoint_every": 2, "log_every": 2, "num_threads": 1},
        "eval": {"batch_size": 4, "eval_teacher": True},
        "distill": {"teacher": "frcnn", "min_teacher_map": None},  # a tiny teacher learns nothing: no gate
        "tracking": {"wandb": False},
    },
    "teachers": {
        "frcnn": {
            "model": {"name": "faster_rcnn_mnv2_fpn256",
                      "options": {"pretrained_backbone": False, "fpn_channels": 16, "representation_size": 32,
                                  "box_batch_size_per_image": 32}},
            "train": {"iterations": 4, "batch_size": 2, "warmup_iters": 1, "checkpoint_every": 2, "log_every": 2,
                      "num_threads": 1},
        }
    },
    "grid": {
        "method": [
            {"distill.method": "none"},
            {"distill.method": "fgd"},
            {"distill.method": "dfmsd", "distill.options.enhance": False},
            {"distill.method": "dfmsd", "distill.options.enhance": True},
        ],
        "seed": [0, 1],
    },
}  # fmt: skip


@pytest.mark.slow
def test_report_and_plots_from_real_records(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DFMSD_BENCH_CACHE", str(tmp_path / "cache"))
    sweep_file = tmp_path / "e2e.yaml"
    sweep_file.write_text(yaml.safe_dump(SWEEP))
    out = tmp_path / "out"
    assert main(["run", str(sweep_file), "--out", str(out), "--workers", "2", "--no-progress"]) == 0
    capsys.readouterr()

    frame = load_runs([out])
    assert len(frame) == 9 and set(frame["state"]) == {"done"} and set(frame["sweep"]) == {"e2e"}
    assert set(frame.loc[frame["role"] == "teacher", "model.name"]) == {"faster_rcnn_mnv2_fpn256"}
    assert frame.loc[frame["method"] != "none", "teacher_mAP"].notna().all()

    assert main(["report", str(out), "--no-paper"]) == 0
    text = (out / "report" / "report.md").read_text()
    for expected in ("| faster_rcnn_mnv2_fpn256: ", "| FGD |", "| DFMSD Enhance=✗ |", "| DFMSD |",
                     "## Ablation: e2e", "| Method | Enhance | mAP |", "| none (teacher) |", "(no rows)"):  # fmt: skip
        assert expected in text, expected
    dfmsd_run = frame[(frame["method"] == "dfmsd")]["run_dir"].iloc[0]
    assert main(["plot", str(out), "--masks", dfmsd_run]) == 0
    figures = out / "report" / "figures"
    names = {p.name for p in figures.iterdir()}
    assert {"masks.png", "masks.pdf", "delta_map.png", "speed_accuracy.png"} <= names
    assert sum(n.startswith("curves_") and n.endswith(".png") for n in names) == 5  # teacher, none, FGD, 2 DFMSD
