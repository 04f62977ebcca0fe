"""scripts/stability_table.py: per-recipe divergence counts and the distilled students paired with the alone one."""

from __future__ import annotations

from pathlib import Path

from tests.reports.conftest import load_script, make_config, write_run


def _module():
    return load_script("stability_table")


def _run(root: Path, method: str, seed: int, threads: int, mAP: float, **kw) -> None:
    cfg = make_config(method=method, seed=seed, teacher=None if method == "none" else "teacher_t")
    cfg["train"]["num_threads"] = threads
    write_run(root, cfg, mAP=mAP, **kw)


def test_distilled_recipes_are_paired_with_the_student_alone_by_seed_and_threads(tmp_path: Path) -> None:
    alone = {(0, 1): 0.010, (1, 1): 0.012, (0, 2): 0.008, (1, 2): 0.011}
    for (seed, threads), v in alone.items():
        _run(tmp_path, "none", seed, threads, v)
        _run(tmp_path, "mimic", seed, threads, v + 0.02)  # higher in all four pairs, by 2 points
    _run(tmp_path, "dfmsd", 0, 1, 0.005)  # lower in its one pair
    _run(tmp_path, "dfmsd", 1, 1, 0.0, state="failed", reason="diverged at iteration 7: loss 90 vs running median 1")
    text = _module().table([str(tmp_path)])
    rows = {line.split("|")[1].strip(): line for line in text.split("Per run:")[0].splitlines() if "+ " in line}
    mimic = [c.strip() for c in rows["student retina_s + mimic, sgd lr 0.02, 40 it"].split("|")]
    assert mimic[2:5] == ["4", "4", "+2.0 ± 0.0"]
    paired = text.split("Distilled against the student alone")[1].split("Per run:")[0]
    dfmsd = next(line for line in paired.splitlines() if "+ dfmsd" in line)
    assert [c.strip() for c in dfmsd.split("|")[2:6]] == ["1", "0", "-0.5", "–"]
    summary = next(line for line in text.splitlines() if line.startswith("| student retina_s + dfmsd"))
    assert summary.split("|")[3].strip() == "1"  # the diverged run is counted as diverged


def test_each_run_names_the_cpu_it_trained_on(tmp_path: Path) -> None:
    import json

    _run(tmp_path, "none", 0, 1, 0.01)
    _run(tmp_path, "none", 1, 1, 0.01)
    env = {"cpu": {"model": "Intel(R) Xeon(R) Processor", "family": "6", "model_id": "167"}}
    first = sorted((tmp_path / "runs").iterdir())[0]
    (first / "env.json").write_text(json.dumps(env))
    rows = [line for line in _module().table([str(tmp_path)]).split("Per run:")[1].splitlines() if "alone" in line]
    assert sorted(row.split("|")[4].strip() for row in rows) == ["Intel 6/167", "–"]


def test_readings_of_one_method_are_separate_recipes(tmp_path: Path) -> None:
    """DFMSD's default, its no-enhancement ablation and its two-teacher curriculum are three recipes, not one."""
    for seed in (0, 1):
        _run(tmp_path, "none", seed, 1, 0.01)
        _run(tmp_path, "dfmsd", seed, 1, 0.03)
        cfg = make_config(method="dfmsd", seed=seed, teacher="teacher_t", options={"enhance": False})
        write_run(tmp_path, cfg, mAP=0.02)
        cfg = make_config(method="dfmsd", seed=seed, stages=["teacher_a", "teacher_t"])
        write_run(tmp_path, cfg, mAP=0.04)
    summary = [line.split("|")[1].strip() for line in _module().table([str(tmp_path)]).split("\n\n")[0].splitlines()]
    assert [r for r in summary if "dfmsd" in r] == [
        "student retina_s + dfmsd Enhance=✗, sgd lr 0.02, 40 it",
        "student retina_s + dfmsd S-a, sgd lr 0.02, 40 it",
        "student retina_s + dfmsd, sgd lr 0.02, 40 it",
    ]
