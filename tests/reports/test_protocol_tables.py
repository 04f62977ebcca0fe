"""scripts/protocol_tables.py hypotheses: every choice on validation, the same pairs then shown on test."""

from __future__ import annotations

from tests.reports.conftest import load_script, make_config, write_run


def _module():
    return load_script("protocol_tables")


# condition -> (validation mAP, test mAP) per seed 0, 1, 2; the best on test is never the best on validation
CONDITIONS = {
    "student_alone": ((0.10, 0.11, 0.12), (0.04, 0.05, 0.06)),
    "baseline:mimic": ((0.20, 0.21, 0.22), (0.05, 0.06, 0.07)),  # best baseline on validation
    "baseline:fgd": ((0.15, 0.16, 0.17), (0.09, 0.10, 0.11)),  # best baseline on test only
    "dfmsd:default": ((0.18, 0.19, 0.20), (0.08, 0.09, 0.10)),
    "dfmsd:no_enhance": ((0.17, 0.18, 0.19), (0.08, 0.08, 0.09)),
    "dfmsd:S-a": ((0.19, 0.20, 0.21), (0.06, 0.06, 0.07)),  # best DFMSD reading and stage-wise on validation
    "dfmsd:S-b": ((0.12, 0.13, 0.14), (0.12, 0.13, 0.14)),  # best on test only
}


def test_hypotheses_choose_on_validation_only(tmp_path):
    for i, (condition, (val, test)) in enumerate(CONDITIONS.items()):
        for seed in range(3):
            cfg = make_config(method=f"m{i}", seed=seed, tags=(f"protocol:{condition}",))
            write_run(tmp_path, cfg, mAP=test[seed], val_mAP=val[seed])
    text = _module().hypotheses(str(tmp_path))
    assert (
        "best baseline baseline:mimic (seeds 0, 1, 2), DFMSD reading dfmsd:S-a (seeds 0, 1, 2), stage-wise reading "
        "dfmsd:S-a (seeds 0, 1, 2)" in text
    )
    rows = {tuple(c.strip() for c in line.split("|")[1:3]): line for line in text.splitlines() if "| H" in line}
    assert "| dfmsd:S-a | baseline:mimic | 3 | -1.00 |" in rows[("H1 DFMSD beats the best baseline", "val")]
    assert "| dfmsd:S-a | baseline:mimic | 3 | +0.33 |" in rows[("H1 DFMSD beats the best baseline", "test")]
    assert "| dfmsd:S-a | dfmsd:default | 3 | -2.67 |" in rows[("H2 stage-wise beats one stage", "test")]
    assert "| dfmsd:default | dfmsd:no_enhance | 3 | +0.67 |" in rows[("H3 masking enhancement beats none", "test")]


def test_missing_conditions_say_not_run(tmp_path):
    write_run(tmp_path, make_config(seed=0, tags=("protocol:student_alone",)), mAP=0.05, val_mAP=0.1)
    text = _module().hypotheses(str(tmp_path))
    assert text.count("not run") == 6


def test_choices_compare_candidates_on_the_seeds_they_share(tmp_path):
    # mimic has seeds 0-2 (it was confirmed), fgd only the screen's seed 0, where it is better; fgd's mean over its
    # one seed is below mimic's over three, so a mean over each one's own seeds would pick mimic
    runs = {"baseline:mimic": (0.20, 0.30, 0.31), "baseline:fgd": (0.22,), "student_alone": (0.1, 0.1, 0.1)}
    for i, (condition, vals) in enumerate(runs.items()):
        for seed, v in enumerate(vals):
            cfg = make_config(method=f"m{i}", seed=seed, tags=(f"protocol:{condition}",))
            write_run(tmp_path, cfg, mAP=v / 2, val_mAP=v)
    assert "best baseline baseline:fgd (seeds 0)," in _module().hypotheses(str(tmp_path))


def test_one_matched_seed_gives_the_difference_without_a_test(tmp_path):
    for i, (condition, v) in enumerate({"baseline:mimic": 0.2, "dfmsd:default": 0.25, "dfmsd:S-b": 0.1}.items()):
        write_run(tmp_path, make_config(method=f"m{i}", seed=0, tags=(f"protocol:{condition}",)), mAP=v, val_mAP=v)
    row = next(line for line in _module().hypotheses(str(tmp_path)).splitlines() if "| H1" in line and "| val" in line)
    assert row.endswith("| 1 | +5.00 | – | – | – | – |")


def test_cost_sums_core_hours_per_condition(tmp_path):
    for seed in (0, 1):
        write_run(tmp_path, make_config(seed=seed, tags=("protocol:student_alone",)), mAP=0.1, step_time=0.5)
    write_run(tmp_path, make_config(method="mimic", tags=("protocol:baseline:mimic",)), mAP=0.2, step_time=0.7)
    text = _module().cost(str(tmp_path))
    threads = make_config()["train"]["num_threads"]  # every fixture run trained 4 s
    assert f"| student_alone | 2 | 0.50 | 0.1 | {2 * 4 * threads / 3600:.2f} |" in text
    assert "| baseline:mimic | 1 | 0.70 |" in text and "| **all** | 3 |" in text
