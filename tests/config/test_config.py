import pytest

from benchmark.config import ConfigError, RunConfig, run_config_from_dict, sanitize_name, teacher_run_config
from benchmark.config.overrides import apply_overrides
from benchmark.run.resolve import run_id


def test_hash_stable_and_sensitive():
    a = run_config_from_dict({"seed": 1, "train": {"lr": 0.01}})
    b = run_config_from_dict({"seed": 1, "train": {"lr": 0.01}, "name": "other", "tracking": {"wandb": False}})
    c = run_config_from_dict({"seed": 1, "train": {"lr": 0.02}})
    assert run_id(a) == run_id(b) != run_id(c)


def test_all_problems_reported_with_source_and_key():
    with pytest.raises(ConfigError) as err:
        run_config_from_dict({"sed": 1, "train": {"lr": "x", "iterations": 1.5}, "data": 3}, "f.yaml")
    lines = err.value.problems
    assert len(lines) == 4
    assert all(line.startswith("f.yaml: ") for line in lines)
    assert any("sed: unknown key" in line for line in lines)
    assert any("train.lr: expected a number" in line for line in lines)


def test_overrides_typed():
    d = apply_overrides(
        {"train": {"lr": 0.1}}, ["train.lr=1e-3", "train.milestones=[0.5,0.8]", "model.checkpoint=null"]
    )
    cfg = run_config_from_dict(d)
    assert cfg.train.lr == 1e-3 and cfg.train.milestones == (0.5, 0.8) and cfg.model.checkpoint is None
    with pytest.raises(ConfigError):
        apply_overrides({}, ["novalue"])


def test_teacher_run_config_shares_data():
    cfg = run_config_from_dict({"distill": {"method": "mimic", "teacher": {"model": {"name": "t"}}}})
    t = teacher_run_config(cfg, cfg.distill.teacher)
    assert t.data == cfg.data and t.distill.method == "none" and t.model.name == "t"


@pytest.mark.parametrize("raw", ["../../etc/passwd", "a/b", "..", "", "x" * 300])
def test_sanitize_name_is_one_safe_component(raw):
    s = sanitize_name(raw)
    assert "/" not in s and not s.startswith(".") and 0 < len(s) <= 80


def test_default_is_valid():
    assert isinstance(run_config_from_dict({}), RunConfig)


def test_bare_yaml_off_is_the_off_switch():
    import yaml

    from benchmark.config import ConfigError, run_config_from_dict

    cfg = run_config_from_dict(yaml.safe_load("distill: {teacher_cache: off}"))
    assert cfg.distill.teacher_cache == "off"
    with pytest.raises(ConfigError, match="model.name: expected a string, got False"):
        run_config_from_dict(yaml.safe_load("model: {name: off}"))
