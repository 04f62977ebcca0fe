"""Teacher-feature cache nodes: planned between a teacher and its students, executed once, skipped on relaunch."""

import json

import pytest

from benchmark.cli import main
from benchmark.commands.plan import render_plan
from benchmark.launch.executors import LocalExecutor
from benchmark.launch.plan import CACHE_BUILDER, build_plan
from benchmark.launch.results import collect_cache_rows, collect_rows, format_cache_table
from benchmark.launch.scheduler import execute, node_dir, read_plan_file, run_dir
from benchmark.launch.spec import sweep_from_dict
from benchmark.launch.worker import read_attempts
from benchmark.run.record import RunRecord


def plan_of(smoke, overrides=()):
    return build_plan(sweep_from_dict(smoke, "smoke.yaml", list(overrides)))


def local(out, trainer=None, workers=2):
    kwargs = {} if trainer is None else {"trainer": trainer}
    return LocalExecutor(out / "runs", workers=workers, gpus=[], **kwargs)


def test_plan_has_one_cache_node_between_the_teacher_and_its_students(smoke_dict, tmp_path):
    plan = plan_of(smoke_dict)
    (teacher,) = [r.run_id for r in plan.runs.values() if r.role == "teacher"]
    (nid,) = plan.caches
    node = plan.caches[nid]
    assert nid.startswith("cache-faster_rcnn_mnv2_fpn256-") and node.role == "cache"
    assert node.deps == (teacher,) and node.argv == CACHE_BUILDER
    assert node.record_dir(tmp_path / "runs") == tmp_path / "cache" / "nodes" / nid
    (stage,) = node.config.distill.stage_list()  # one teacher, one process
    assert stage.teacher.model.name == "faster_rcnn_mnv2_fpn256" and node.config.train.processes == 1
    mimic = [r for r in plan.runs.values() if r.method == "mimic"]
    assert len(mimic) == 2 and all(r.caches == (nid,) and r.deps == (teacher,) for r in mimic)
    assert all(r.caches == () for r in plan.runs.values() if r.method != "mimic")
    assert len(plan.runs) == 5 and plan.order() == [r for r in plan.node_order() if r in plan.runs]
    order = plan.node_order()
    assert order.index(teacher) < order.index(nid) < min(order.index(r.run_id) for r in mimic)
    assert plan.cache_bytes[nid] > 0
    # stable: a rebuilt plan names the same node; another teacher seed is another cache
    assert list(plan_of(smoke_dict).caches) == [nid]
    assert list(plan_of(smoke_dict, ["teachers.frcnn.seed=1"]).caches) != [nid]


@pytest.mark.parametrize(
    "override",
    ['distill.teacher_cache="off"', "distill.teacher_cache_max_gb=0", "distill.method=none"],
)
def test_no_cache_node_when_the_students_would_not_read_a_cache(smoke_dict, override):
    plan = plan_of(smoke_dict, [override])
    assert plan.caches == {} and all(r.caches == () for r in plan.runs.values())


def test_each_teacher_run_gets_its_own_node(smoke_dict):
    smoke_dict["grid"]["data.synthetic_images"] = [4, 6]  # two datasets: two teacher runs, two caches
    plan = plan_of(smoke_dict)
    teachers = {r.run_id for r in plan.runs.values() if r.role == "teacher"}
    assert len(teachers) == 2 and len(plan.caches) == 2
    assert {node.deps for node in plan.caches.values()} == {(t,) for t in teachers}
    for run in plan.runs.values():
        if run.caches:
            (nid,) = run.caches
            assert plan.caches[nid].deps == run.deps


def test_plan_command_shows_the_cache_node_and_its_disk_size(smoke_dict, tmp_path):
    plan = plan_of(smoke_dict)
    (nid,) = plan.caches
    text = render_plan(plan, tmp_path)
    assert "5 runs (1 teacher, 4 student) + 1 teacher-cache node(s)" in text
    number = plan.node_order().index(nid) + 1
    (row,) = [line for line in text.splitlines() if nid in line]
    assert row.split()[:3] == [str(number), "new", "cache"] and " #1 " in row and "KB disk" in row
    students = [line for line in text.splitlines() if "method=mimic" in line]
    assert len(students) == 2 and all(f"#1,#{number}" in line for line in students)
    assert "cache nodes (role cache" in text and "built once by its cache node" in text


def test_failed_cache_node_lets_its_students_fall_back(tmp_path, smoke_dict, fake_trainer, capsys):
    """The fake trainer leaves no teacher weights, so the real cache build fails: the node is failed, the
    students still run (they would build the cache or run live themselves), and a relaunch skips all."""
    plan = plan_of(smoke_dict)
    (nid,) = plan.caches
    messages: list[str] = []
    result = execute(plan, tmp_path, local(tmp_path, fake_trainer), progress=False, log=messages.append)
    assert result.ok and set(result.done) == set(plan.runs) and result.started.count(nid) == 0
    assert result.cache_started == [nid] and list(result.cache_failed) == [nid]
    assert "is not done" in result.cache_failed[nid]
    assert any("cache node failed" in m for m in messages)
    node_record = RunRecord(node_dir(tmp_path, plan.caches[nid]))
    status = node_record.read_status()
    assert status["state"] == "failed" and "is not done" in status["reason"]
    assert node_record.read_config()["run_id"] == nid and node_record.load_config() == plan.caches[nid].config
    # the node's students started after it ended
    node_end = max(a["t"] for a in read_attempts(node_dir(tmp_path, plan.caches[nid])) if a["event"] == "end")
    for rid, run in plan.runs.items():
        if run.caches:
            assert min(a["t"] for a in read_attempts(run_dir(tmp_path, rid)) if a["event"] == "start") > node_end
    # runs/ holds runs only; plan.json lists the node under caches; status shows it apart
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == sorted(plan.runs)
    (entry,) = read_plan_file(tmp_path, "caches")
    assert entry["id"] == nid and len(entry["students"]) == 2 and entry["deps"] == list(plan.caches[nid].deps)
    assert [r["run_id"] for r in collect_rows(tmp_path)] == plan.order()
    (row,) = collect_cache_rows(tmp_path)
    assert row["state"] == "failed" and row["students"] == 2
    assert "1 cache nodes: 1 failed" in format_cache_table([row])
    assert main(["status", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "5 runs: 5 done" in out and nid in out and "1 cache nodes: 1 failed" in out
    # relaunch: nothing runs, the failed node stays failed (retried only with retry_failed)
    again = execute(plan, tmp_path, local(tmp_path, fake_trainer), progress=False, log=messages.append)
    assert again.started == [] and again.cache_started == [] and again.ok


def test_failed_teacher_fails_its_cache_node(tmp_path, smoke_dict, fake_trainer, monkeypatch):
    monkeypatch.setenv("FAKE_FAIL", "faster_rcnn_mnv2_fpn256")
    plan = plan_of(smoke_dict)
    (nid,) = plan.caches
    (teacher,) = plan.caches[nid].deps
    result = execute(plan, tmp_path, local(tmp_path, fake_trainer), progress=False, log=lambda m: None)
    assert result.cache_failed == {nid: f"dependency {teacher} failed"} and result.cache_started == []
    assert all(result.failed[r] == f"dependency {teacher} failed" for r, run in plan.runs.items() if run.caches)


def test_no_node_is_run_for_a_sweep_whose_students_are_done(tmp_path, smoke_dict, fake_trainer):
    """A sweep finished before it had cache nodes (or with the cache off) does not build caches on relaunch."""
    execute(
        plan_of(smoke_dict, ['distill.teacher_cache="off"']), tmp_path, local(tmp_path, fake_trainer), progress=False
    )
    plan = plan_of(smoke_dict)
    result = execute(plan, tmp_path, local(tmp_path, fake_trainer), progress=False)
    assert result.started == [] and result.cache_started == [] and result.ok
    assert not (tmp_path / "cache" / "nodes").exists()


@pytest.mark.slow
def test_smoke_sweep_builds_the_cache_once_and_students_read_it(tmp_path, smoke_dict, capsys):
    """Real trainer: teacher, then the cache node (builds the cache), then the mimic students read it."""
    smoke_dict["grid"]["seed"] = [0]
    plan = plan_of(smoke_dict)
    (nid,) = plan.caches
    node = plan.caches[nid]
    result = execute(plan, tmp_path, local(tmp_path), progress=False, log=lambda m: None)
    assert result.ok and set(result.done) == set(plan.runs)
    assert result.cache_started == [nid] and result.cache_done == [nid] and result.cache_failed == {}
    record = RunRecord(node_dir(tmp_path, node))
    assert record.read_status()["state"] == "done" and record.read_status()["cached"] == 1
    assert record.read_log().count(": built ") == 1
    assert len(list((tmp_path / "cache").glob("teacher-*/COMPLETE"))) == 1
    for rid, run in plan.runs.items():
        log = RunRecord(run_dir(tmp_path, rid)).read_log()
        if run.caches:
            assert "teacher features: cache " in log and ": built " not in log, rid
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert [e["event"] for e in events].count("cache-start") == 1
    # relaunch: nothing runs, the node included
    again = execute(plan, tmp_path, local(tmp_path), progress=False)
    assert again.started == [] and again.cache_started == [] and set(again.skipped) == set(plan.runs)
    assert main(["status", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"{len(plan.runs)} runs: {len(plan.runs)} done" in out and "1 cache nodes: 1 done" in out
