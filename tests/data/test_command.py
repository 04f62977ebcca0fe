"""``dfmsd-bench data prepare synthetic`` / ``data info`` end to end through the CLI."""

from __future__ import annotations

import json

from benchmark.cli import main


def test_prepare_synthetic_and_info(tmp_path, capsys):
    root = tmp_path / "syn"
    assert main(["data", "prepare", "synthetic", "--root", str(root), "--images", "3", "--size", "64"]) == 0
    out = capsys.readouterr().out
    assert "train: 3 images" in out and str(root) in out
    assert main(["data", "info", str(root), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert sorted(stats) == ["test", "train"]
    train = stats["train"]
    assert train["images"] == 3 and train["classes"] == 3
    assert sum(train["coco_sizes"].values()) == train["boxes"] == sum(train["box_side_histogram"].values())
    assert main(["data", "info", str(root / "annotations" / "instances_test.json")]) == 0
    assert "COCO sizes" in capsys.readouterr().out


def test_user_errors_are_one_line(tmp_path, capsys):
    assert main(["data", "prepare", "weights", "--root", str(tmp_path)]) == 2
    assert main(["data", "prepare", "neon", "--seed", "1"]) == 2
    assert main(["data", "info", str(tmp_path / "missing")]) == 2
    bad = tmp_path / "instances_x.json"
    bad.write_text("{")
    assert main(["data", "info", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 4 and all(line.startswith("error: ") for line in err)
    assert "broken JSON" in err[-1] and str(bad) in err[-1]
