"""Validation corpus: every malformed sweep in bad_sweeps/ is refused before anything runs, with one line per
problem naming the file (and key), and the fragment its first line announces (``# expect: ...``)."""

from pathlib import Path

import pytest

from benchmark.config import ConfigError
from benchmark.launch.plan import load_plan

BAD = sorted(Path(__file__).with_name("bad_sweeps").glob("*.yaml"))


def test_corpus_is_large_enough():
    assert len(BAD) >= 30


@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_bad_sweep_is_refused_with_its_message(path, monkeypatch):
    monkeypatch.chdir(path.parent)  # relative data roots resolve next to the corpus
    expect = path.read_text().splitlines()[0].removeprefix("# expect:").strip()
    with pytest.raises(ConfigError) as info:
        load_plan(path.name)
    problems = info.value.problems
    assert any(expect in line for line in problems), f"{expect!r} not in {problems}"
    assert all(line.startswith(path.name) or line.startswith("override") for line in problems), problems
    assert all("\n" not in line for line in problems)


def test_all_problems_reported_at_once(tmp_path):
    sweep = tmp_path / "many.yaml"
    sweep.write_text(
        "base:\n  data: {dataset: synthetic}\n  train: {iterations: x, lr: y}\n  model: {name: nope}\n"
        "grid:\n  distill.method: [none, fgdx, mimicx]\n"
    )
    with pytest.raises(ConfigError) as info:
        load_plan(sweep)
    text = "\n".join(info.value.problems)
    for fragment in ("train.iterations", "train.lr"):
        assert fragment in text
    # structural problems stop before the semantic checks, but both bad axis values are named
    sweep.write_text(
        "base:\n  data: {dataset: synthetic}\n  model: {name: nope}\ngrid:\n  distill.method: [none, fgdx, mimicx]\n"
    )
    with pytest.raises(ConfigError) as info:
        load_plan(sweep)
    text = "\n".join(info.value.problems)
    assert "model.name: unknown model 'nope'" in text
    assert "grid distill.method=fgdx: distill.method: unknown method 'fgdx'" in text
    assert "grid distill.method=mimicx: distill.method: unknown method 'mimicx'" in text
    assert len(info.value.problems) == len(set(info.value.problems))  # repeated base problems reported once


def test_override_problems_name_the_override(tmp_path):
    sweep = tmp_path / "s.yaml"
    sweep.write_text("base:\n  data: {dataset: synthetic}\n")
    with pytest.raises(ConfigError) as info:
        load_plan(sweep, ["train.iterations=lots"])
    assert any(
        "override 'train.iterations=lots': train.iterations: expected an integer" in p for p in info.value.problems
    )
    with pytest.raises(ConfigError, match="unknown key 'trian'"):
        load_plan(sweep, ["trian.lr=1"])
    with pytest.raises(ConfigError, match="expected key.sub=value"):
        load_plan(sweep, ["seed"])
