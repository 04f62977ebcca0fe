"""Loading run records: discovery, flattened config columns, derived columns, nothing dropped."""

import json
import math

import pytest

from reports.load import RecordError, ablation_orders, find_run_dirs, flatten, load_runs, varying_axes


def test_flatten_dotted_keys_tuples_and_indexed_lists():
    flat = flatten({"a": {"b": 1, "c": [1, 2]}, "d": [{"e": 3}, {"e": 4}], "f": {}})
    assert flat == {"a.b": 1, "a.c": (1, 2), "d.0.e": 3, "d.1.e": 4, "f": None}


def test_sweep_runs_and_run_dir_all_accepted(cmp_sweep):
    by_sweep = find_run_dirs([cmp_sweep])
    assert len(by_sweep) == 11 and {s for s, _ in by_sweep} == {"cmp"}
    assert find_run_dirs([cmp_sweep / "runs"]) == by_sweep
    one = by_sweep[0][1]
    assert find_run_dirs([one]) == [("cmp", one)]


def test_missing_or_empty_paths_are_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        find_run_dirs([tmp_path / "nope"])
    with pytest.raises(RecordError, match="no run records"):
        find_run_dirs([tmp_path])


def test_frame_columns_and_failed_runs_kept(cmp_sweep):
    frame = load_runs([cmp_sweep])
    assert len(frame) == 11
    assert sorted(frame["state"].value_counts().items()) == [("done", 9), ("failed", 1), ("running", 1)]
    failed = frame[frame["state"] == "failed"].iloc[0]
    assert failed["reason"] == "CUDA out of memory" and math.isnan(failed["mAP"])
    fgd = frame[(frame["method"] == "fgd") & (frame["seed"] == 1)].iloc[0]
    assert fgd["teacher"] == "teacher_t" and fgd["teachers"] == "teacher_t" and fgd["distill.n_stages"] == 1
    assert fgd["mAP"] == pytest.approx(0.34) and fgd["teacher_mAP"] == pytest.approx(0.5)
    assert fgd["model.name"] == "retina_s" and fgd["train.iterations"] == 40 and fgd["schedule"] == "40it"
    assert fgd["cost.step_time_s"] == pytest.approx(0.15)
    alone = frame[(frame["method"] == "none") & (frame["seed"] == 1)].iloc[0]
    assert alone["teacher"] == "" and alone["base_key"] == fgd["base_key"]
    # seed replicates share the config key, methods do not
    assert frame[frame["method"] == "fgd"]["config_key"].nunique() == 1
    assert frame["config_key"].nunique() == 4


def test_unreadable_and_incomplete_records_are_rows(tmp_path, rec):
    sweep = tmp_path / "s"
    bad = rec.write_run(sweep, rec.make_config(seed=0), mAP=0.3)
    (bad / "status.json").write_text("{not json")
    done_no_metrics = rec.write_run(sweep, rec.make_config(seed=1))
    frame = load_runs([sweep]).set_index("run_id")
    assert frame.loc[bad.name, "state"] == "unreadable" and "unreadable" in frame.loc[bad.name, "reason"]
    assert frame.loc[done_no_metrics.name, "state"] == "incomplete"


def test_schedule_tag_stages_and_duplicates(tmp_path, rec):
    cfg = rec.make_config(method="dfmsd", stages=["t_a", "t_b"], tags=("schedule:2x",))
    rec.write_run(tmp_path / "one", cfg, mAP=0.3)
    rec.write_run(tmp_path / "two", cfg, mAP=0.3)  # the same run found in two sweeps: kept once
    frame = load_runs([tmp_path / "one", tmp_path / "two"])
    assert len(frame) == 1
    row = frame.iloc[0]
    assert row["schedule"] == "2x" and row["teachers"] == "t_a→t_b" and row["teacher"] == "t_b"
    assert row["distill.n_stages"] == 2


def test_varying_axes_ignore_seed_and_bookkeeping(tmp_path, rec):
    for seed in (0, 1):
        for ratio in (0.45, 0.65):
            cfg = rec.make_config(method="dfmsd", teacher="t", seed=seed, options={"ratio_spatial": ratio})
            cfg["tracking"]["project"] = f"p{seed}"
            rec.write_run(tmp_path / "s", cfg, mAP=0.3)
    assert varying_axes(load_runs([tmp_path / "s"])) == ["distill.options.ratio_spatial"]


def test_ablation_order_from_plan_file(tmp_path, rec):
    rec.write_run(tmp_path / "s", rec.make_config(), mAP=0.3)
    assert ablation_orders([tmp_path / "s"]) == {}
    plan = {"sweeps": {"s": {"ablation_order": ["dual", "enhance"]}}, "runs": []}
    (tmp_path / "s" / "plan.json").write_text(json.dumps(plan))
    assert ablation_orders([tmp_path / "s"]) == {"s": ["dual", "enhance"]}
    plan["sweeps"]["s"]["ablation_order"] = "dual"
    (tmp_path / "s" / "plan.json").write_text(json.dumps(plan))
    with pytest.raises(RecordError, match="ablation_order"):
        ablation_orders([tmp_path / "s"])


def test_coco_schedule_label_from_epochs(tmp_path, rec):
    for iterations, batch, expected in ((175920, 16, "2x"), (87960, 16, "1x"), (1000, 16, "1000it")):
        cfg = rec.make_config(iterations=iterations)
        cfg["data"]["dataset"] = "coco"
        cfg["train"]["batch_size"] = batch
        rec.write_run(tmp_path / str(iterations), cfg, mAP=0.3)
        assert load_runs([tmp_path / str(iterations)]).iloc[0]["schedule"] == expected


def test_plan_file_gives_sweep_and_role(tmp_path, rec):
    import json

    student = rec.write_run(tmp_path / "out", rec.make_config(), mAP=0.3)
    teacher = rec.write_run(tmp_path / "out", rec.make_config(model="big"))
    for run_dir in (student, teacher):  # records written before resolved.yaml: the plan file knows the role
        (run_dir / "resolved.yaml").unlink()
        (run_dir / "metrics.json").unlink(missing_ok=True)
    plan = {"runs": [{"run_id": student.name, "sweep": "ablation_x", "role": "student"},
                     {"run_id": teacher.name, "sweep": "ablation_x", "role": "teacher"}]}  # fmt: skip
    (tmp_path / "out" / "plan.json").write_text(json.dumps(plan))
    frame = load_runs([tmp_path / "out"]).set_index("run_id")
    assert set(frame["sweep"]) == {"ablation_x"} and set(frame["out_dir"]) == {"out"}
    assert frame.loc[teacher.name, "role"] == "teacher" and frame.loc[student.name, "role"] == "student"


def test_spelled_out_default_options_group_with_the_plain_runs(tmp_path):
    from .conftest import make_config, write_run

    stages = ["retina_t", "frcnn_t"]
    write_run(tmp_path, make_config(method="dfmsd", stages=stages, seed=0), mAP=0.05)
    write_run(tmp_path, make_config(method="dfmsd", stages=stages, seed=1, options={"alpha": 3.0}), mAP=0.06)
    write_run(tmp_path, make_config(method="dfmsd", stages=stages, seed=2, options={"alpha": 1.0}), mAP=0.07)
    frame = load_runs([tmp_path]).set_index("seed")
    assert frame.loc[0, "config_key"] == frame.loc[1, "config_key"] != frame.loc[2, "config_key"]
    assert list(frame["distill.options.alpha"]) == [3.0, 3.0, 1.0]  # the default shown, not "–"
