"""sweeps/paper/*.yaml: they validate and plan with placeholder COCO/checkpoint files (no data is read), and
without them every missing input is named. Model cards are counted on the meta device (seconds)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
import yaml

pytest.importorskip("mmdet")
pytestmark = pytest.mark.mm

from benchmark.cli import main as cli_main  # noqa: E402
from benchmark.config import ConfigError  # noqa: E402
from benchmark.launch.plan import estimate_flops, load_plan  # noqa: E402

PAPER = Path(__file__).resolve().parents[2] / "sweeps" / "paper"
SWEEPS = sorted(PAPER.glob("*.yaml"))
METHODS = {"none", "fgd", "mgd", "fkd", "pkd", "dmkd", "dfmsd"}
STAGEWISE = {"cascade_x101_faster_r50", "fcos_x101_retinanet_r50", "swin_maskrcnn_retinanet_r50"}


def needed_files(path: Path) -> set[str]:
    """Every ``checkpoints/...`` path a sweep file names."""
    return set(re.findall(r"checkpoints/[\w.\-]+\.pth", path.read_text()))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A run folder with an empty (valid) COCO layout and empty weights files: enough for planning."""
    root = tmp_path_factory.mktemp("paper")
    coco = root / "coco"
    for folder in ("annotations", "train2017", "val2017"):
        (coco / folder).mkdir(parents=True)
    for split in ("train2017", "val2017"):
        empty = {"images": [], "annotations": [], "categories": [{"id": 1, "name": "thing"}]}
        (coco / "annotations" / f"instances_{split}.json").write_text(json.dumps(empty))
    (root / "checkpoints").mkdir()
    for path in SWEEPS:
        for name in needed_files(path):
            torch.save({"state_dict": {}}, root / name)
    return root


def test_six_pairs():
    assert {p.stem for p in SWEEPS} == {
        "retinanet_x101_r50",
        "cascade_x101_faster_r50",
        "reppoints_x101_r50",
        "fcos_x101_retinanet_r50",
        "faster_r101_r50",
        "swin_maskrcnn_retinanet_r50",
    }


@pytest.mark.parametrize("path", SWEEPS, ids=lambda p: p.stem)
def test_plans_with_placeholders(path, workdir, monkeypatch):
    monkeypatch.chdir(workdir)
    plan = load_plan(path, [f"data.root={workdir / 'coco'}"])
    runs = list(plan.runs.values())
    assert len(runs) == 21 and all(r.role == "student" for r in runs)  # explicit teacher checkpoints: no teacher runs
    assert {r.config.distill.method for r in runs} == METHODS and {r.config.seed for r in runs} == {0, 1, 2}
    raw = yaml.safe_load(path.read_text())["base"]["train"]
    for run in runs:
        cfg = run.config
        assert cfg.model.name.startswith("mmdet:") and cfg.data.dataset == "coco"
        assert cfg.data.protocol == "mmdet" and tuple(cfg.data.scale) == (1333, 800)
        assert cfg.train.iterations == raw["iterations"] in (87960, 175920) and cfg.train.batch_size == 16
        assert cfg.train.lr == (0.02 if "faster" in cfg.model.name else 0.01)
        for stage in cfg.distill.stage_list():
            assert stage.teacher.checkpoint and stage.teacher.model.name.startswith("mmdet:")
        assert estimate_flops(cfg) > 0
    dfmsd = [r.config for r in runs if r.config.distill.method == "dfmsd"]
    assert {len(c.distill.stage_list()) for c in dfmsd} == {2 if path.stem in STAGEWISE else 1}


def test_missing_inputs_are_named(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = PAPER / "fcos_x101_retinanet_r50.yaml"
    with pytest.raises(ConfigError) as err:
        load_plan(path)
    text = "\n".join(err.value.problems)
    assert "data.root" in text
    for name in needed_files(path):
        assert name in text, name


def test_plan_command_prints_the_cost(workdir, monkeypatch, capsys):
    monkeypatch.chdir(workdir)
    assert cli_main(["plan", str(PAPER / "retinanet_x101_r50.yaml"), f"data.root={workdir / 'coco'}"]) == 0
    out = capsys.readouterr().out
    assert "21 runs" in out and "PFLOP" in out
    assert "training images (coco annotations/instances_train2017.json, protocol mmdet): none of the 0" in out


def test_plan_prints_the_filtered_image_count(workdir, tmp_path, monkeypatch, capsys):
    """With a (tiny) train2017 annotation file on disk, plan counts the images mmdet's filter keeps."""
    monkeypatch.chdir(workdir)
    coco = tmp_path / "coco"
    for folder in ("annotations", "train2017", "val2017"):
        (coco / folder).mkdir(parents=True)
    images = [{"id": i, "file_name": f"{i}.jpg", "width": 640, "height": 480} for i in range(4)]
    anns = [{"id": 1, "image_id": 0, "category_id": 1, "bbox": [1, 1, 5, 5]},
            {"id": 2, "image_id": 2, "category_id": 1, "bbox": [1, 1, 5, 5], "iscrowd": 1}]  # fmt: skip
    data = {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "x"}]}
    (coco / "annotations" / "instances_train2017.json").write_text(json.dumps(data))
    for img in images:
        (coco / "train2017" / img["file_name"]).touch()  # validation checks that the files exist, reads none
    empty = {"images": [], "annotations": [], "categories": [{"id": 1, "name": "x"}]}
    (coco / "annotations" / "instances_val2017.json").write_text(json.dumps(empty))
    assert cli_main(["plan", str(PAPER / "retinanet_x101_r50.yaml"), f"data.root={coco}"]) == 0
    out = capsys.readouterr().out
    assert "protocol mmdet): 2 (filter_empty_gt, min_size 32: 2 of 4 kept); 175,920 iterations x 16 = " in out
