"""The run DAG: teachers shared and trained once, stage-wise runs depending on every stage teacher, ordering."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmark.config import teacher_run_config
from benchmark.launch.plan import build_plan, load_plan, topological_order
from benchmark.launch.spec import sweep_from_dict
from benchmark.run.resolve import run_id
from benchmark.zoo import MODELS, ModelEntry, get_card

BASE = {"data": {"dataset": "synthetic"}, "model": {"name": "retinanet_mnv2_fpn64"}}
TEACHERS = {
    "frcnn": {"model": {"name": "faster_rcnn_mnv2_fpn256"}},
    "retina": {"model": {"name": "retinanet_mnv2_fpn256"}},
}


def plan(data):
    return build_plan(sweep_from_dict({"base": BASE, "teachers": TEACHERS, **data}, "t.yaml"))


def test_teacher_trained_once_and_shared():
    p = plan({"grid": {"distill.method": ["mimic", "fgd", "mgd"], "distill.teacher": ["frcnn"], "seed": [0, 1]}})
    teachers = [r for r in p.runs.values() if r.role == "teacher"]
    assert len(teachers) == 1
    students = [r for r in p.runs.values() if r.role == "student"]
    assert len(students) == 6 and all(s.deps == (teachers[0].run_id,) for s in students)
    for s in students:  # the dependency is exactly the run the trainer will look up
        assert run_id(teacher_run_config(s.config, s.config.distill.teacher)) == teachers[0].run_id
    order = p.order()
    assert order.index(teachers[0].run_id) < min(order.index(s.run_id) for s in students)


def test_a_teacher_keeps_only_the_tags_all_its_students_share():
    method = [
        {"distill.method": "mimic", "tracking.tags": ["shared", "condition:a"]},
        {"distill.method": "fgd", "tracking.tags": ["shared", "condition:b"]},
    ]
    p = plan({"grid": {"method": method, "distill.teacher": ["frcnn"]}})
    (teacher,) = [r for r in p.runs.values() if r.role == "teacher"]
    assert teacher.config.tracking.tags == ("shared", "role:teacher", "model:faster_rcnn_mnv2_fpn256", "seed:0")
    assert {t for r in p.runs.values() if r.role == "student" for t in r.config.tracking.tags} >= {
        "condition:a",
        "condition:b",
    }


def test_stage_wise_run_depends_on_every_stage_teacher():
    stages = [{"teacher": "retina", "fraction": 0.5}, {"teacher": "frcnn", "fraction": 0.5}]
    p = plan({"include": [{"distill.method": "dfmsd", "distill.stages": stages}]})
    (student,) = [r for r in p.runs.values() if r.role == "student"]
    assert len(student.deps) == 2 and set(student.deps) == {r.run_id for r in p.runs.values() if r.role == "teacher"}
    assert student.config.distill.teacher is None  # stages override a base teacher


def test_explicit_checkpoint_is_no_dependency(tmp_path):
    ckpt = tmp_path / "t.pt"
    torch.save({"model": {}}, ckpt)
    teacher = {"model": {"name": "faster_rcnn_mnv2_fpn256"}, "checkpoint": str(ckpt)}
    p = plan({"include": [{"distill.method": "mimic", "distill.teacher": teacher}]})
    assert len(p.runs) == 1 and next(iter(p.runs.values())).deps == ()


def test_plain_students_drop_their_teacher_and_are_shared_across_pairs():
    p = plan({"grid": {"distill.method": ["none", "mimic"], "distill.teacher": ["frcnn", "retina"]}})
    nones = [r for r in p.runs.values() if r.method == "none" and r.role == "student"]
    assert len(nones) == 1 and nones[0].deps == () and nones[0].config.distill.teacher is None
    assert len(p.runs) == 1 + 2 + 2  # none, two mimic students, two teachers


def test_unmatchable_pair_is_reported(monkeypatch):
    import dataclasses

    from benchmark.zoo.card import FPNLevel

    card = dataclasses.replace(get_card("retinanet_mnv2_fpn256"), name="coarse_only", levels=(FPNLevel("p7", 64, 128),))
    monkeypatch.setitem(MODELS._items, "coarse_only", ModelEntry(card, MODELS.get("retinanet_mnv2_fpn256").builder))
    with pytest.raises(Exception) as info:
        plan({"grid": {"distill.method": ["mimic"], "distill.teacher": [{"model": {"name": "coarse_only"}}]}})
    assert "grid distill.teacher=" in str(info.value) and "no shared FPN stride" in str(info.value)


def test_shipped_sweeps_plan(request):
    root = request.config.rootpath / "sweeps"
    files = [*root.glob("*.yaml"), *root.glob("ablations/*.yaml"), *root.glob("protocol/*.yaml")]  # not paper/: COCO
    counts = {p.relative_to(root).with_suffix("").as_posix(): len(load_plan(p).runs) for p in sorted(files)}
    assert counts["smoke"] == 5 and counts["quickstart"] == 4 and counts["neon_methods"] == 56
    assert {
        f"ablations/{a}" for a in ("dual", "enhance", "sem_align", "stages", "mask_select", "ratio", "temp")
    } <= set(counts)
    assert counts["stability"] == 64 and counts["protocol/schedule"] == 18 and counts["protocol/stability"] == 32


def test_protocol_stability_reuses_the_schedule_studys_runs(request):
    root = request.config.rootpath / "sweeps" / "protocol"
    stability, schedule = load_plan(root / "stability.yaml"), load_plan(root / "schedule.yaml")
    shared = set(stability.runs) & set(schedule.runs)
    assert len(stability.runs) == 32 and len(shared) == 6  # 800-it teacher and 1600-it student, seeds 0-2, 1 thread


def test_quickstart_sweep_has_the_quickstart_run_ids(request):
    from benchmark.launch.quickstart import quickstart_configs

    teacher, students = quickstart_configs()
    p = load_plan(request.config.rootpath / "sweeps" / "quickstart.yaml")
    assert set(p.runs) == {run_id(teacher), *(run_id(s) for s in students)}


@st.composite
def dags(draw):
    n = draw(st.integers(1, 12))
    nodes = [f"r{i}" for i in draw(st.permutations(range(n)))]
    deps = {nodes[i]: draw(st.sets(st.sampled_from(nodes[:i]), max_size=3)) if i else set() for i in range(n)}
    return nodes, deps


@settings(max_examples=60, deadline=None)
@given(dags(), st.randoms(use_true_random=False))
def test_topological_order_puts_dependencies_first(dag, rnd):
    nodes, deps = dag
    shuffled = rnd.sample(nodes, len(nodes))
    order = topological_order(shuffled, deps)
    assert sorted(order) == sorted(nodes)
    pos = {n: i for i, n in enumerate(order)}
    assert all(pos[d] < pos[n] for n, ds in deps.items() for d in ds)


def test_cycle_and_unknown_dependency_are_errors():
    with pytest.raises(ValueError, match="cycle"):
        topological_order(["a", "b"], {"a": {"b"}, "b": {"a"}})
    with pytest.raises(ValueError, match="unknown"):
        topological_order(["a"], {"a": {"z"}})


def test_ablation_order_reaches_the_report_through_plan_json(tmp_path):
    from benchmark.launch.scheduler import run_dir, write_plan_file
    from reports.load import ablation_orders

    plan = build_plan(
        sweep_from_dict(
            {
                "name": "abl",
                "base": BASE,
                "grid": {"seed": [0, 1]},
                "ablation_order": ["enhance"],
            },
            "abl.yaml",
        )
    )
    write_plan_file(plan, tmp_path)
    rid = plan.order()[0]
    run_dir(tmp_path, rid).mkdir(parents=True)
    (run_dir(tmp_path, rid) / "config.yaml").write_text("{}")
    assert ablation_orders([tmp_path]) == {"abl": ["enhance"]}
    with pytest.raises(Exception, match="ablation_order"):
        sweep_from_dict({"base": BASE, "ablation_order": "enhance"}, "bad.yaml")


def test_plan_without_data_lists_missing_inputs_and_run_refuses(tmp_path):
    from benchmark.commands.plan import render_plan

    missing_root = tmp_path / "coco"
    sweep = sweep_from_dict({"base": {**BASE, "data": {"dataset": "coco", "root": str(missing_root)}}}, "c.yaml")
    with pytest.raises(Exception, match="no such folder"):
        build_plan(sweep)
    plan = build_plan(sweep, allow_missing_inputs=True)
    assert len(plan.runs) == 1 and plan.missing_inputs
    text = render_plan(plan, tmp_path / "out", gpu_tflops=50)
    assert "GPU-hours at an ASSUMED 50 TFLOP/s" in text and "no GPU rate was measured" in text
    assert "not runnable yet: 1 missing input(s)" in text and f"no such folder: {missing_root}" in text


def test_protocol_readings_share_the_comparisons_teacher_and_change_one_option_each(request):
    root = request.config.rootpath / "sweeps"
    readings, comparison = load_plan(root / "protocol" / "readings.yaml"), load_plan(root / "neon_converged.yaml")
    students = [r for r in readings.runs.values() if r.role == "student"]
    assert len(students) == 17 and set(readings.caches) <= set(comparison.caches)
    assert {r for r in readings.runs if readings.runs[r].role == "teacher"} <= set(comparison.runs)
    assert not set(r.run_id for r in students) & set(comparison.runs)  # no reading repeats a comparison condition
    tags = [t for r in students for t in r.config.tracking.tags if t.startswith("protocol:dfmsd:")]
    assert len(set(tags)) == 17
