"""Bad input never reaches a run: every command refuses it before any record exists, with exit status 2 and
one line per problem naming the file and the key (or the image/annotation id); nothing is slow about it."""

from __future__ import annotations

import errno
import json
import os
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from benchmark.cli import main

CORPUS = sorted(Path(__file__).with_name("bad_configs").glob("*.yaml"))
COMMANDS = {
    "train": lambda path, out: ["train", str(path), "--out", str(out), "--no-progress"],
    "plan": lambda path, out: ["plan", str(path), "--out", str(out)],
    "run": lambda path, out: ["run", str(path), "--out", str(out), "--no-progress"],
}


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DFMSD_BENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("WANDB_MODE", "disabled")


def refused(capsys, args: list[str], out: Path) -> list[str]:
    """Run the CLI; assert exit 2, no traceback, no record, under a few seconds; return the error lines."""
    t0 = time.perf_counter()
    assert main(args) == 2
    elapsed = time.perf_counter() - t0
    err = capsys.readouterr().err.strip().splitlines()
    assert err and all(line.startswith("error: ") for line in err), err
    assert "Traceback" not in "\n".join(err)
    assert not (out / "runs").exists() or not any((out / "runs").iterdir()), "a record was created"
    assert elapsed < 15, f"{args[0]} took {elapsed:.1f} s to refuse"
    return err


def test_corpus_is_large_enough():
    assert len(CORPUS) >= 20


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_bad_config_is_refused_by_every_command(path, command, tmp_path, capsys):
    expect = path.read_bytes().splitlines()[0].decode().removeprefix("# expect:").strip()
    out = tmp_path / "out"
    err = refused(capsys, COMMANDS[command](path, out), out)
    assert any(expect in line for line in err), (expect, err)
    assert all(path.name in line for line in err), err  # every line names the file


@pytest.mark.parametrize("command", list(COMMANDS))
def test_huge_config_file_is_refused_at_once(command, tmp_path, capsys):
    path = tmp_path / "huge.yaml"
    path.write_text("data: {dataset: synthetic}\nnotes: |\n" + ("  " + "x" * 99 + "\n") * 500_000)  # 50 MB
    err = refused(capsys, COMMANDS[command](path, tmp_path / "out"), tmp_path / "out")
    assert any("larger than 1000 kB" in line for line in err), err


# ---------------------------------------------------------------------------- bad data


def _coco_folder(root: Path, *, spoil: str | None = None) -> Path:
    """A valid 2-image COCO folder (train = test), then one thing spoiled."""
    (root / "annotations").mkdir(parents=True)
    (root / "images").mkdir()
    pixels = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    for name in ("a.png", "b.png"):
        Image.fromarray(pixels).save(root / "images" / name)
    data = {
        "images": [{"id": i, "file_name": n, "width": 64, "height": 64} for i, n in ((1, "a.png"), (2, "b.png"))],
        "annotations": [{"id": 10 + i, "image_id": i, "category_id": 1, "bbox": [8, 8, 20, 20]} for i in (1, 2)],
        "categories": [{"id": 1, "name": "thing"}],
    }
    text = None
    if spoil == "truncated_json":
        text = json.dumps(data)[:40]
    elif spoil == "no_annotations":
        del data["annotations"]
    elif spoil == "missing_image":
        (root / "images" / "b.png").unlink()
    elif spoil == "box_outside":
        data["annotations"][1]["bbox"] = [50, 50, 40, 40]
    elif spoil == "empty_categories":
        data["categories"] = []
    elif spoil == "unknown_image_id":
        data["annotations"][1]["image_id"] = 99
    elif spoil == "truncated_png":
        (root / "images" / "b.png").write_bytes((root / "images" / "b.png").read_bytes()[:60])
    elif spoil == "corrupt_png":  # complete (ends with IEND) but its pixel data is garbage
        good = (root / "images" / "b.png").read_bytes()
        (root / "images" / "b.png").write_bytes(good[:60] + bytes(len(good) - 72) + good[-12:])
    (root / "annotations" / "instances.json").write_text(text if text is not None else json.dumps(data))
    return root


def _coco_config(tmp_path: Path, root: Path, **extra) -> Path:
    cfg = {
        "data": {
            "dataset": "coco",
            "root": str(root),
            "train_ann": "annotations/instances.json",
            "train_images": "images",
            "test_ann": "annotations/instances.json",
            "test_images": "images",
            "input_size": 64,
            "hflip": False,
        },
        "model": {"name": "retinanet_mnv2_fpn64", "options": {"pretrained_backbone": False, "fpn_channels": 32}},
        "train": {"iterations": 2, "batch_size": 2, "optimizer": "adamw", "lr": 0.001, "warmup_iters": 1},
        "tracking": {"wandb": False},
        **extra,
    }
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


BAD_DATA = {
    "truncated_json": "broken JSON at line 1",
    "no_annotations": "missing or non-list key 'annotations'",
    "missing_image": "image file not found (image id 2",
    "box_outside": "annotation id 12 (image id 2): box [50, 50, 40, 40] lies outside the 64x64 image",
    "empty_categories": "'categories' is empty",
    "unknown_image_id": "annotation id 12: unknown image_id 99",
    "truncated_png": "b.png: image file is truncated (image id 2",
}


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("spoil", list(BAD_DATA))
def test_bad_data_is_refused_before_any_record(spoil, command, tmp_path, capsys):
    path = _coco_config(tmp_path, _coco_folder(tmp_path / "coco", spoil=spoil))
    out = tmp_path / "out"
    err = refused(capsys, COMMANDS[command](path, out), out)
    assert any(BAD_DATA[spoil] in line and "instances.json" in line and "run.yaml" in line for line in err), err


def test_a_corrupt_image_fails_its_run_with_one_line(tmp_path, capsys):
    """Decoding is not part of validation (existence and complete files only): a PNG whose data is garbage fails
    the run that reads it, with one line."""
    path = _coco_config(tmp_path, _coco_folder(tmp_path / "coco", spoil="corrupt_png"))
    assert main(["train", str(path), "--out", str(tmp_path / "out"), "--no-progress"]) == 1
    status = json.loads(next((tmp_path / "out" / "runs").glob("*/status.json")).read_text())
    assert status["state"] == "failed" and "cannot decode image (image id 2)" in status["reason"]
    assert "\n" not in status["reason"]


# ---------------------------------------------------------------------------- unsafe checkpoints


class Payload:
    """An object that ``weights_only`` loading must refuse (unpickling it would run code from this module)."""

    def __reduce__(self):
        return (os.system, ("echo pwned > /tmp/dfmsd-pwned",))


def _hostile(path: Path) -> Path:
    torch.save({"model": Payload()}, path)
    return path


def test_unsafe_checkpoint_refused_by_train_and_eval(tmp_path, capsys):
    ckpt = _hostile(tmp_path / "evil.pt")
    path = _coco_config(tmp_path, _coco_folder(tmp_path / "coco"))
    raw = yaml.safe_load(path.read_text())
    raw["model"]["checkpoint"] = str(ckpt)
    path.write_text(yaml.safe_dump(raw))
    out = tmp_path / "out"
    expected = f"refused to load {ckpt}: it is not a plain weights file (torch weights_only)"
    for command in ("train", "plan", "run"):
        err = refused(capsys, COMMANDS[command](path, out), out)
        assert any(expected in line for line in err), err
    raw["model"]["checkpoint"] = None
    teacher = {"model": {"name": "faster_rcnn_mnv2_fpn256"}, "checkpoint": str(ckpt)}
    raw["distill"] = {"method": "mimic", "teacher": teacher}
    path.write_text(yaml.safe_dump(raw))
    err = refused(capsys, COMMANDS["train"](path, out), out)
    assert any("distill.teacher.checkpoint: " + expected in line for line in err), err
    assert main(["eval", str(ckpt), "--model", "retinanet_mnv2_fpn64"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {expected}"], err
    assert not Path("/tmp/dfmsd-pwned").exists()


def test_unsafe_resume_checkpoint_fails_the_run_with_one_line(tmp_path, capsys):
    path = _coco_config(tmp_path, _coco_folder(tmp_path / "coco"))
    out = tmp_path / "out"
    assert main(["train", str(path), "--out", str(out), "--no-progress"]) == 0
    run_dir = next((out / "runs").iterdir())
    (run_dir / "status.json").write_text(json.dumps({"state": "running"}))
    _hostile(run_dir / "checkpoints" / "last.pt")
    capsys.readouterr()
    assert main(["train", str(path), "--out", str(out), "--no-progress"]) == 1
    reason = json.loads((run_dir / "status.json").read_text())["reason"]
    assert reason.startswith("refused to load") and "not a plain weights file" in reason, reason


# ---------------------------------------------------------------------------- disk full


def test_disk_full_fails_the_run_with_a_clear_reason_and_resume_works(tmp_path, monkeypatch, capsys):
    """A fault-injected full disk while writing a checkpoint: the run is failed with 'no space left on device
    while writing <path>', nothing corrupt is left, and it finishes once space is back."""
    import benchmark.atomic as atomic

    real_fsync = os.fsync

    def full_for_checkpoints(fd: int) -> None:
        target = os.readlink(f"/proc/self/fd/{fd}")
        if target.endswith(".tmp") and "/checkpoints/" in target:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    path = _coco_config(tmp_path, _coco_folder(tmp_path / "coco"))
    out = tmp_path / "out"
    monkeypatch.setattr(atomic.os, "fsync", full_for_checkpoints)
    assert main(["train", str(path), "--out", str(out), "--no-progress"]) == 1
    run_dir = next((out / "runs").iterdir())
    status = json.loads((run_dir / "status.json").read_text())
    assert status["state"] == "failed"
    assert status["reason"].startswith("no space left on device while writing ") and "checkpoints" in status["reason"]
    assert not list(run_dir.rglob("*.tmp"))  # no partial file left behind
    monkeypatch.setattr(atomic.os, "fsync", real_fsync)
    capsys.readouterr()
    assert main(["train", str(path), "--out", str(out), "--no-progress"]) == 0  # space is back: it finishes
    assert json.loads((run_dir / "status.json").read_text())["state"] == "done"
