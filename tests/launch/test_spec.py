"""Grid expansion and hashing: products, zips, named axes, include/exclude, teachers, overrides."""

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from benchmark.config import RunConfig
from benchmark.launch.plan import build_plan
from benchmark.launch.spec import sweep_from_dict
from benchmark.run.resolve import run_id

BASE = {"data": {"dataset": "synthetic"}, "model": {"name": "retinanet_mnv2_fpn64"}}
TEACHERS = {
    "frcnn": {"model": {"name": "faster_rcnn_mnv2_fpn256"}},
    "retina": {"model": {"name": "retinanet_mnv2_fpn256"}},
}


def plan(data, overrides=()):
    return build_plan(sweep_from_dict({"base": BASE, "teachers": TEACHERS, **data}, "t.yaml", overrides))


AXES = {
    "seed": st.lists(st.integers(0, 50), min_size=1, max_size=3, unique=True),
    "train.lr": st.lists(st.sampled_from([0.1, 0.01, 0.001, 0.0005]), min_size=1, max_size=3, unique=True),
    "train.iterations": st.lists(st.integers(1, 500), min_size=1, max_size=3, unique=True),
    "data.input_size": st.lists(st.sampled_from([64, 128, 400]), min_size=1, max_size=2, unique=True),
}


@settings(max_examples=25, deadline=None)
@given(st.fixed_dictionaries({}, optional=AXES), st.randoms(use_true_random=False))
def test_grid_is_the_cartesian_product_and_ids_are_stable(grid, rnd):
    expected = math.prod(len(v) for v in grid.values())
    runs = plan({"grid": grid}).runs
    assert len(runs) == expected  # distinct values -> distinct content -> distinct ids
    for rid, run in runs.items():
        assert rid == run_id(run.config)
    # axis order and a reload do not change the set of run ids
    shuffled = dict(rnd.sample(list(grid.items()), len(grid)))
    assert set(plan({"grid": shuffled}).runs) == set(runs)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10**6), st.text(min_size=1, max_size=20), st.sampled_from(["offline", "disabled"]))
def test_unhashed_fields_do_not_change_the_id(seed, name, mode):
    a = plan({"grid": {"seed": [seed]}})
    b = plan({"grid": {"seed": [seed], "name": [name], "tracking.mode": [mode], "resources.cpus": [7]}})
    assert set(a.runs) == set(b.runs)
    assert next(iter(a.runs)).endswith(next(iter(b.runs))[-10:])


def test_zip_advances_together_and_named_axes_set_several_keys():
    p = plan(
        {
            "grid": {
                "pair": [{"model.name": "retinanet_mnv2_fpn64"}, {"model.name": "fcos_mnv2_fpn64"}],
                "seed": [0, 1],
            },
            "zip": [{"train.lr": [0.1, 0.01], "train.iterations": [10, 20]}],
        }
    )
    configs = [r.config for r in p.runs.values()]
    assert len(configs) == 2 * 2 * 2
    assert {(c.train.lr, c.train.iterations) for c in configs} == {(0.1, 10), (0.01, 20)}
    assert {c.model.name for c in configs} == {"retinanet_mnv2_fpn64", "fcos_mnv2_fpn64"}


def test_exclude_and_include():
    p = plan(
        {
            "grid": {"seed": [0, 1, 2], "train.lr": [0.1, 0.01]},
            "exclude": [{"seed": [1, 2], "train.lr": 0.1}, {"seed": 0, "train.iterations": 400}],
            "include": [{"seed": 9, "train.lr": 0.5}],
        }
    )
    got = sorted((r.config.seed, r.config.train.lr) for r in p.runs.values())
    # (0, *) excluded by the second rule: iterations is 400 by default
    assert got == [(1, 0.01), (2, 0.01), (9, 0.5)]


def test_teacher_names_resolve_and_group_tags_are_set():
    p = plan({"name": "demo", "grid": {"distill.method": ["mimic"], "distill.teacher": ["frcnn", "retina"]}})
    students = [r for r in p.runs.values() if r.role == "student"]
    assert {s.config.distill.teacher.model.name for s in students} == {
        "faster_rcnn_mnv2_fpn256",
        "retinanet_mnv2_fpn256",
    }
    for s in students:
        assert s.config.tracking.group == "demo"
        tags = s.config.tracking.tags
        assert "method:mimic" in tags and "seed:0" in tags
        assert f"pair:{s.config.distill.teacher.model.name}->retinanet_mnv2_fpn64" in tags
    teachers = [r for r in p.runs.values() if r.role == "teacher"]
    assert all(t.config.name.startswith("teacher-") and "role:teacher" in t.config.tracking.tags for t in teachers)


def test_overrides_win_over_the_grid_and_reach_teachers():
    p = plan(
        {"grid": {"distill.method": ["mimic"], "distill.teacher": ["frcnn"], "train.iterations": [5, 6]}},
        ["train.iterations=3", "teachers.frcnn.train.iterations=2"],
    )
    students = [r for r in p.runs.values() if r.role == "student"]
    assert len(students) == 1 and students[0].config.train.iterations == 3  # the axis collapsed
    (teacher,) = [r for r in p.runs.values() if r.role == "teacher"]
    assert teacher.config.train.iterations == 2


def test_run_ids_are_safe_path_components():
    p = plan({"grid": {"name": ["../../etc/passwd", "a/b"], "model.name": ["retinanet_mnv2_fpn64"]}})
    for rid, run in p.runs.items():
        assert "/" not in rid and not rid.startswith(".")
        assert "/" not in run.config.name
    assert run_id(RunConfig()) == run_id(RunConfig(name="x/../y"))
