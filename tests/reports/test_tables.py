"""Tables on synthetic record sets with known means and stds: exact cells, bold, order, axes, cost."""

import pytest

from reports.axes import numeric_axes
from reports.formatting import fmt_summary
from reports.load import load_runs
from reports.stats import Summary
from reports.tables.ablation import ablation_table
from reports.tables.comparison import comparison_table
from reports.tables.cost import cost_table
from reports.tables.not_finished import not_finished_table
from reports.tables.sensitivity import sensitivity_table


def texts(table):
    return [[c.text for c in row] for row in table.rows]


def bold(table):
    return [[c.bold for c in row] for row in table.rows]


def test_cell_format():
    assert fmt_summary(Summary(36.0, 2.6457513, 3), 1) == "36.0 ± 2.6 (3)"
    assert fmt_summary(Summary(-0.04, 0.5, 2), 1, sign=True) == "−0.0 ± 0.5 (2)"
    assert fmt_summary(Summary(4.0, float("nan"), 1), 1, sign=True) == "+4.0 (1)"
    assert fmt_summary(Summary(float("nan"), float("nan"), 0), 1) == "–"


def test_comparison_exact_numbers(cmp_sweep):
    table = comparison_table(load_runs([cmp_sweep]))
    assert table.header[:4] == ("Teacher (mAP)", "Student (alone)", "Method", "mAP")
    rows = texts(table)
    # student alone 30, 32, 34; FGD +2 each; DFMSD +3, +5, +4 (percent)
    assert rows[0] == [
        "teacher_t: 50.0", "retina_s: 32.0 ± 2.0 (3)", "student alone",
        "32.0 ± 2.0 (3)", "52.0 ± 2.0 (3)", "37.0 ± 2.0 (3)", "22.0 ± 2.0 (3)", "32.0 ± 2.0 (3)", "42.0 ± 2.0 (3)",
        "–", "–", "–", "–",
    ]  # fmt: skip
    assert rows[1][2:4] == ["FGD", "34.0 ± 2.0 (3)"] and rows[1][9:] == ["+2.0 ± 0.0 (3)", "0.0", "<0.001", "–"]
    # DFMSD vs alone: d = 3, 5, 4 → t = 4√3, df 2, p = 0.0202; vs FGD (best baseline): d = 1, 3, 2 → p = 0.0742
    # MDD at 80 % power: (t_0.975,2 + t_0.8,2) · 1.0 / √3 = (4.303 + 1.061) / 1.732 = 3.1
    assert rows[2][2:4] == ["DFMSD", "36.0 ± 2.6 (3)"] and rows[2][9:] == ["+4.0 ± 1.0 (3)", "3.1", "0.020", "0.074"]
    assert [b[3] for b in bold(table)] == [False, False, True]  # best mAP in bold
    assert [b[9] for b in bold(table)] == [False, False, True]
    data = table.data.set_index("method")
    assert data.loc["dfmsd", "mAP_std"] == pytest.approx(7**0.5)
    assert data.loc["dfmsd", "p_vs_student"] == pytest.approx(0.020204102886728803)
    assert data.loc["dfmsd", "best_baseline"] == "FGD"
    assert data.loc["dfmsd", "mdd_mAP"] == pytest.approx(3.0968, abs=1e-3)
    assert data.loc["dfmsd", "seeds_for_mdd_1"] == 10
    assert "paired t-test" in table.caption
    # the failed DFMSD seed and the running MGD run are not in any cell (n = 3; no MGD row)
    assert all("MGD" not in r[2] for r in rows)


def test_best_baseline_is_chosen_on_validation_when_the_runs_have_it(tmp_path, rec):
    # FGD is better on test, MGD on validation: the test table's "best baseline" is MGD
    for seed in (0, 1):
        rec.write_run(tmp_path, rec.make_config(seed=seed), mAP=0.30, val_mAP=0.40)
        for method, test, val in (("fgd", 0.36, 0.41), ("mgd", 0.33, 0.45), ("dfmsd", 0.35, 0.44)):
            cfg = rec.make_config(seed=seed, method=method, teacher="teacher_t")
            rec.write_run(tmp_path, cfg, mAP=test + seed / 100, val_mAP=val)
    table = comparison_table(load_runs([tmp_path]))
    assert table.data.set_index("method").loc["dfmsd", "best_baseline"] == "MGD"
    assert "on the validation split when every baseline has validation numbers" in table.caption
    rec.write_run(tmp_path, rec.make_config(method="pkd", teacher="teacher_t"), mAP=0.5)  # no val numbers: on test
    assert comparison_table(load_runs([tmp_path])).data.set_index("method").loc["dfmsd", "best_baseline"] == "PKD"


def test_not_finished_lists_failed_and_running(cmp_sweep):
    table = not_finished_table(load_runs([cmp_sweep]))
    rows = texts(table)
    assert [(r[2], r[3], r[4], r[5]) for r in rows] == [
        ("dfmsd", "failed", "12/40", "CUDA out of memory"),
        ("mgd", "running", "12/40", ""),
    ]
    assert "2 of 11" in table.caption


def test_cost_overhead_from_student_alone(cmp_sweep):
    rows = texts(cost_table(load_runs([cmp_sweep])))
    assert [(r[1], r[5], r[6]) for r in rows] == [
        ("none (student)", "100.0", "1.00×"),
        ("FGD", "150.0", "1.50×"),
        ("DFMSD", "200.0", "2.00×"),  # the proposed method last, as in the comparison
    ]
    assert rows[0][3:5] == ["2.50", "1.50"]


VARIANTS = [  # (dual, enhance, sem_align, stages, gain in mAP points)
    ("spatial", False, "none", ["t_b"], 1),
    ("both", False, "none", ["t_b"], 2),
    ("both", True, "none", ["t_b"], 3),
    ("both", True, "pkd", ["t_b"], 4),
    ("both", True, "pkd", ["t_a", "t_b"], 5),
    ("spatial", True, "pkd", ["t_b"], 0),  # not on the cumulative path
]


@pytest.fixture
def ablation_sweep(tmp_path, rec):
    sweep = tmp_path / "abl"
    for seed, base in ((0, 0.30), (1, 0.32)):
        rec.write_run(sweep, rec.make_config(seed=seed), mAP=base)
        for i, (dual, enhance, align, stages, gain) in enumerate(VARIANTS):
            options = {"dual": dual, "enhance": enhance, "sem_align": align}
            cfg = rec.make_config(seed=seed, method="dfmsd", stages=stages, options=options)
            rec.write_run(sweep, cfg, mAP=base + gain / 100 + (0.001 * i if seed else 0.0))
    return sweep


def test_ablation_axes_and_cumulative_order(ablation_sweep):
    frame = load_runs([ablation_sweep])
    table = ablation_table("abl", frame, order=["dual", "enhance", "sem_align", "stages"])
    assert table.header[:6] == ("Method", "Dual", "Enhance", "Align", "Stages", "Teachers")
    rows = texts(table)
    assert [r[:6] for r in rows] == [
        ["student alone", "–", "–", "–", "0", "–"],
        ["DFMSD", "spatial", "✗", "none", "1", "t_b"],
        ["DFMSD", "both", "✗", "none", "1", "t_b"],
        ["DFMSD", "both", "✓", "none", "1", "t_b"],
        ["DFMSD", "both", "✓", "pkd", "1", "t_b"],
        ["DFMSD", "both", "✓", "pkd", "2", "t_a→t_b"],
        ["DFMSD", "spatial", "✓", "pkd", "1", "t_b"],
    ]
    # row 5 (i = 4): mAP 35.0 and 37.4 → 36.2 ± 1.7; paired Δ 5.0 and 5.4 → +5.2 ± 0.3
    assert rows[5][6] == "36.2 ± 1.7 (2)" and rows[5][-1] == "+5.2 ± 0.3 (2)"
    assert [b[6] for b in bold(table)] == [False, False, False, False, False, True, False]
    assert "cumulative ablation (Dual → Enhance → Align → Stages)" in table.caption


def test_ablation_without_order_sorted_by_values(ablation_sweep):
    table = ablation_table("abl", load_runs([ablation_sweep]))
    rows = texts(table)
    assert rows[0][0] == "student alone" and len(rows) == 7
    assert [r[1] for r in rows[1:]] == sorted(r[1] for r in rows[1:])  # first axis sorted
    assert "sorted by the axis values" in table.caption


def test_no_ablation_when_only_seeds_vary(tmp_path, rec):
    for seed in (0, 1):
        rec.write_run(tmp_path / "s", rec.make_config(seed=seed), mAP=0.3)
    assert ablation_table("s", load_runs([tmp_path / "s"])) is None


@pytest.fixture
def sensitivity_sweep(tmp_path, rec):
    sweep = tmp_path / "sens"
    for seed in (0, 1):
        rec.write_run(sweep, rec.make_config(seed=seed), mAP=0.30)
        for ratio, v in ((0.45, 0.33), (0.65, 0.35), (0.85, 0.31)):
            for enhance in (False, True):
                options = {"ratio_spatial": ratio, "enhance": enhance}
                cfg = rec.make_config(seed=seed, method="dfmsd", teacher="t", options=options)
                rec.write_run(sweep, cfg, mAP=v + 0.01 * enhance + 0.01 * seed)
    return sweep


def test_sensitivity_table(sensitivity_sweep):
    frame = load_runs([sensitivity_sweep])
    assert numeric_axes(frame) == ["distill.options.ratio_spatial"]
    table = sensitivity_table("sens", frame, "distill.options.ratio_spatial")
    assert table.header == ("Setting", "ratio_spatial", "mAP", "AP50", "AP75", "Δ mAP")
    rows = texts(table)
    assert [r[:3] for r in rows] == [
        ["Enhance=✗", "0.45", "33.5 ± 0.7 (2)"],
        ["", "0.65", "35.5 ± 0.7 (2)"],
        ["", "0.85", "31.5 ± 0.7 (2)"],
        ["Enhance=✓", "0.45", "34.5 ± 0.7 (2)"],
        ["", "0.65", "36.5 ± 0.7 (2)"],
        ["", "0.85", "32.5 ± 0.7 (2)"],
    ]
    assert rows[4][-1] == "+6.5 ± 0.7 (2)"  # Δ 36 − 30 and 37 − 30
    assert [b[2] for b in bold(table)] == [False, True, False, False, True, False]


def test_jointly_swept_axes_are_one_sensitivity_axis(tmp_path, rec):
    sweep = tmp_path / "ratio"
    for seed in (0, 1):
        for ratio, v in ((0.45, 0.33), (0.65, 0.35)):
            options = {"ratio_spatial": ratio, "ratio_channel": ratio}
            rec.write_run(sweep, rec.make_config(seed=seed, method="dfmsd", teacher="t", options=options), mAP=v)
    frame = load_runs([sweep])
    assert numeric_axes(frame) == ["distill.options.ratio_channel"]
    table = sensitivity_table("ratio", frame, "distill.options.ratio_channel")
    assert table.header[0] == "ratio_channel = ratio_spatial"
    assert [r[:2] for r in texts(table)] == [["0.45", "33.0 ± 0.0 (2)"], ["0.65", "35.0 ± 0.0 (2)"]]


def test_stagewise_run_joins_the_pair_of_its_final_teacher(tmp_path, rec):
    sweep = tmp_path / "s"
    for seed, v in ((0, 0.30), (1, 0.32)):
        rec.write_run(sweep, rec.make_config(seed=seed), mAP=v)
        rec.write_run(sweep, rec.make_config(seed=seed, method="pkd", teacher="big"), mAP=v + 0.01)
        rec.write_run(sweep, rec.make_config(seed=seed, method="dfmsd", stages=["mid", "big"]), mAP=v + 0.02)
    rows = texts(comparison_table(load_runs([sweep])))
    assert [r[2] for r in rows] == ["student alone", "PKD", "DFMSD S-a"]  # S-a: a sequence of teachers
    assert rows[0][0] == "big: –" and rows[2][-1] == "<0.001"  # no teacher metrics; identical +1 differences
    assert rows[2][9] == "+2.0 ± 0.0 (2)"


def test_inheriting_init_still_finds_the_student_alone(tmp_path, rec):
    sweep = tmp_path / "s"
    for seed in (0, 1):
        rec.write_run(sweep, rec.make_config(seed=seed), mAP=0.30)
        cfg = rec.make_config(seed=seed, method="fgd", teacher="big")
        cfg["model"]["options"] = {"inherit_from": "checkpoints/big.pth"}
        rec.write_run(sweep, cfg, mAP=0.33)
    rows = texts(comparison_table(load_runs([sweep])))
    assert rows[0][2] == "student alone" and rows[1][9] == "+3.0 ± 0.0 (2)"


def test_one_short_display_name_per_condition_in_every_table(tmp_path, rec):
    """Variants of a method get a suffix (stage reading, then the options that differ), the same in the
    comparison and the cost table; single-stage runs of another method keep the plain name."""
    sweep = tmp_path / "s"
    for seed, v in ((0, 0.30), (1, 0.32)):
        rec.write_run(sweep, rec.make_config(seed=seed), mAP=v)
        rec.write_run(sweep, rec.make_config(seed=seed, method="fgd", teacher="big"), mAP=v + 0.01)
        rec.write_run(sweep, rec.make_config(seed=seed, method="dfmsd", stages=["mid", "big"]), mAP=v + 0.02)
        rec.write_run(sweep, rec.make_config(seed=seed, method="dfmsd", stages=["big", "big"]), mAP=v + 0.03)
        cfg = rec.make_config(seed=seed, method="dfmsd", stages=["big", "big"], options={"alpha": 1.0})
        rec.write_run(sweep, cfg, mAP=v + 0.04)
    frame = load_runs([sweep])
    methods = [r[2] for r in texts(comparison_table(frame))]
    assert methods == ["student alone", "FGD", "DFMSD S-a", "DFMSD S-b α=1", "DFMSD S-b"]
    assert [r[1] for r in texts(cost_table(frame))] == ["none (student)", *methods[1:]]
    assert "S-b: stage-wise with one teacher" in comparison_table(frame).caption


def test_variant_suffix_names_the_differing_option(ablation_sweep):
    from reports.conditions import conditions, variant_labels

    frame = load_runs([ablation_sweep])
    labels = set(variant_labels([c for c in conditions(frame) if c.method == "dfmsd"]).values())
    assert "DFMSD Dual=spatial Enhance=✗ Align=none" in labels and "DFMSD Align=none" in labels
    assert "DFMSD S-a" in labels and "DFMSD" in labels  # two stages, two teachers: S-a
    assert len(labels) == len(VARIANTS)


def test_ablation_columns_are_not_duplicated(tmp_path, rec):
    """A stage-wise arm beside single-teacher methods: one Stages and one Teachers column (the empty
    ``distill.stages`` leaf of the single-teacher runs is not an axis of its own)."""
    sweep = tmp_path / "s"
    for seed in (0, 1):
        rec.write_run(sweep, rec.make_config(seed=seed), mAP=0.30)
        rec.write_run(sweep, rec.make_config(seed=seed, method="fgd", teacher="big"), mAP=0.31)
        rec.write_run(sweep, rec.make_config(seed=seed, method="dfmsd", stages=["mid", "big"]), mAP=0.32)
    header = ablation_table("s", load_runs([sweep])).header
    assert header[:3] == ("Method", "Stages", "Teachers")
    assert len({h.lower() for h in header}) == len(header)
