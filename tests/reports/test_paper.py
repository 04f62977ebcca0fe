"""Published numbers: the transcriptions, no DFMSD number anywhere, matching by key, schema errors."""

import pytest

from reports.load import load_runs
from reports.paper import load_paper_rows, paper_entries
from reports.tables.paper_vs_measured import paper_table


def rows_of(method):
    return [r for r in load_paper_rows() if r.method == method]


def test_every_row_has_a_source_and_known_key_fields():
    rows = load_paper_rows()
    assert {r.method for r in rows} >= {"fgd", "mgd", "fkd", "pkd", "dmkd", "dfmsd"}
    assert all(r.source for r in rows)


def test_dfmsd_values_are_never_filled():
    dfmsd = rows_of("dfmsd")
    assert len(dfmsd) >= 5
    for r in dfmsd:
        assert r.metrics and all(v is None for v in r.metrics.values())
        assert not r.gain and not r.student_alone and not r.teacher_metrics
    dmkd = rows_of("dmkd")  # the abstract publishes gains only
    assert sorted(r.gain["mAP"] for r in dmkd) == [4.1, 4.3]
    assert all(v is None for r in dmkd for v in r.metrics.values())


def test_transcribed_values():
    by = {(r.method, r.teacher, r.student, r.schedule): r for r in load_paper_rows()}
    retina_x101, retina_r50 = "mmdet:retinanet_x101-64x4d_fpn_1x_coco", "mmdet:retinanet_r50_fpn_2x_coco"
    fgd = by[("fgd", retina_x101, retina_r50, "2x")]
    assert (fgd.metrics["mAP"], fgd.student_alone["mAP"]) == (40.7, 37.4)
    fcos_x101 = "mmdet:fcos_x101-64x4d_fpn_gn-head_ms-640-800-2x_coco"
    pkd = by[("pkd", fcos_x101, "mmdet:retinanet_r50_fpn_1x_coco", "1x")]
    assert (pkd.metrics["mAP"], pkd.student_alone["mAP"], pkd.teacher_metrics["mAP"]) == (40.3, 36.5, 42.6)
    fkd = by[("fkd", "mmdet:faster-rcnn_r101_fpn_1x_coco", "mmdet:faster-rcnn_r50_fpn_1x_coco", "1x")]
    assert (fkd.metrics["mAP"], fkd.teacher_metrics["mAP"]) == (39.3, 39.4)
    cmr = "mmdet:cascade-mask-rcnn_x101-32x4d-dconv-c3-c5_fpn_1x_coco"
    mgd = by[("mgd", cmr, "mmdet:faster-rcnn_r50_fpn_2x_coco", "2x")]
    assert mgd.metrics["mAP"] == 42.1


def test_measured_values_beside_paper(tmp_path, rec):
    (tmp_path / "p.yaml").write_text(
        "rows:\n"
        "  - {method: fgd, teacher: big, student: small, schedule: 2x, metrics: {mAP: 40.0, AP50: null},\n"
        "     student_alone: {mAP: 37.0}, teacher_metrics: {mAP: 45.0}, source: 'test table'}\n"
        "  - {method: dfmsd, teacher: big, student: small, schedule: 2x, metrics: {mAP: null}, source: 'n/a'}\n"
    )
    sweep = tmp_path / "s"
    for seed, v in ((0, 0.36), (1, 0.38)):
        rec.write_run(sweep, rec.make_config(model="small", seed=seed, tags=("schedule:2x",)), mAP=v)
        cfg = rec.make_config(model="small", method="fgd", teacher="big", seed=seed, tags=("schedule:2x",))
        rec.write_run(sweep, cfg, mAP=v + 0.03, teacher_mAP=0.44)
        other = rec.make_config(model="small", method="fgd", teacher="big", seed=seed, iterations=80)
        rec.write_run(sweep, other, mAP=0.9)  # schedule "80it": not the paper's 2x
    frame = load_runs([sweep])
    entries = {(e.row.method, e.metric): e for e in paper_entries(frame, load_paper_rows([tmp_path / "p.yaml"]))}
    fgd = entries[("fgd", "mAP")]
    assert (fgd.measured.mean, fgd.measured.n) == (pytest.approx(40.0), 2)
    assert fgd.diff == pytest.approx(0.0) and fgd.paper_gain == pytest.approx(3.0)
    assert fgd.measured_gain.mean == pytest.approx(3.0) and fgd.measured_alone.mean == pytest.approx(37.0)
    assert fgd.measured_teacher.mean == pytest.approx(44.0)
    assert entries[("fgd", "AP50")].paper is None and entries[("fgd", "AP50")].measured.mean == pytest.approx(60.0)
    table = paper_table(frame, load_paper_rows([tmp_path / "p.yaml"]))
    cells = {tuple(c.text for c in row[:5]): [c.text for c in row] for row in table.rows}
    row = cells[("FGD", "big → small", "2x", "mAP", "40.0")]
    assert row[5:12] == [
        "40.0 ± 1.4 (2)",
        "+0.0",
        "reproduced",
        "+3.0",
        "+3.0 ± 0.0 (2)",
        "37.0 / 37.0 ± 1.4 (2)",
        "45.0 / 44.0 ± 0.0 (2)",
    ]
    assert cells[("DFMSD", "big → small", "2x", "mAP", "n/a")][5] == "–"
    assert cells[("DFMSD", "big → small", "2x", "mAP", "n/a")][7] == "n/a"


def _summary(*values):
    from reports.stats import summarize

    return summarize(values)


def test_reproduction_status_rules():
    from reports.paper import reproduction_status, reproduction_tolerance

    assert reproduction_status(None, _summary(40.0)) == "n/a"
    assert reproduction_status(40.0, _summary()) == "not run"
    assert reproduction_status(40.0, _summary(40.3)) == "reproduced"  # the 0.3 AP floor, one seed
    assert reproduction_status(40.0, _summary(40.31)) == "above"
    assert reproduction_status(40.0, _summary(39.5, 39.6, 39.7)) == "below"  # SE 0.058: the floor applies
    spread = _summary(38.0, 39.0, 40.0)  # mean 39.0, std 1.0, SE 0.577: tolerance 1.155
    assert reproduction_tolerance(spread) == pytest.approx(2 / 3**0.5)
    assert reproduction_status(40.1, spread) == "reproduced" and reproduction_status(40.2, spread) == "below"
    assert reproduction_status(37.8, spread) == "above"


def test_status_column_on_synthetic_records(tmp_path, rec):
    """Five published rows against records: one per status, and a gain-only row judged on its gain."""
    (tmp_path / "p.yaml").write_text(
        "rows:\n"
        "  - {method: fgd, teacher: big, student: small, schedule: 2x, metrics: {mAP: 40.0}, source: t}\n"
        "  - {method: mgd, teacher: big, student: small, schedule: 2x, metrics: {mAP: 45.0}, source: t}\n"
        "  - {method: pkd, teacher: big, student: small, schedule: 2x, metrics: {mAP: 30.0}, source: t}\n"
        "  - {method: fkd, teacher: big, student: small, schedule: 2x, metrics: {mAP: 40.0}, source: t}\n"
        "  - {method: dfmsd, teacher: big, student: small, schedule: 2x, metrics: {mAP: null}, source: t}\n"
        "  - {method: dmkd, teacher: big, student: small, schedule: 2x, metrics: {mAP: null}, gain: {mAP: 3.5},\n"
        "     source: t}\n"
    )
    sweep = tmp_path / "s"
    tags = ("schedule:2x",)
    offsets = {"fgd": (0.030, 0.042, 0.054), "mgd": (0.030, 0.031, 0.032), "pkd": (0.030, 0.031, 0.032),
               "dfmsd": (0.01, 0.01, 0.01), "dmkd": (0.034, 0.036, 0.035)}  # fmt: skip
    for seed in range(3):
        rec.write_run(sweep, rec.make_config(model="small", seed=seed, tags=tags), mAP=0.36)
        for method, off in offsets.items():
            cfg = rec.make_config(model="small", method=method, teacher="big", seed=seed, tags=tags)
            rec.write_run(sweep, cfg, mAP=0.36 + off[seed])
    table = paper_table(load_runs([sweep]), load_paper_rows([tmp_path / "p.yaml"]))
    status = {row[0].text: row[7].text for row in table.rows}
    # fgd: 40.2 ± 1.2, SE 0.69 -> tolerance 1.39: reproduced; mgd 39.1 < 45 - 0.3; pkd 39.1 > 30.3; fkd: no runs
    assert status == {"FGD": "reproduced", "MGD": "below", "PKD": "above", "FKD": "not run", "DFMSD": "n/a",
                      "DMKD": "reproduced (Δ)"}  # fmt: skip
    data = table.data.set_index("method")
    assert data.loc["dmkd", "status_on"] == "gain" and data.loc["dfmsd", "status_on"] == ""
    assert data.loc["fgd", "tolerance"] == pytest.approx(2 * 1.2 / 3**0.5)
    assert "max(0.3 AP, 2 × the standard error" in table.caption


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rows: 3\n", "'rows' list"),
        ("rows:\n  - {method: x, source: s, bogus: 1}\n", "unknown key"),
        ("rows:\n  - {method: x}\n", "required"),
        ("rows:\n  - {method: x, source: s, metrics: {mAP: high}}\n", "number or null"),
    ],
)
def test_schema_errors_name_the_file(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message) as info:
        load_paper_rows([path])
    assert "bad.yaml" in str(info.value)


def test_paper_sweep_pairs_have_rows(request):
    """Every (teacher, student, schedule) of sweeps/paper/*.yaml has published rows to compare with."""
    import yaml

    keys = {(r.teacher, r.student, r.schedule) for r in load_paper_rows()}
    for path in sorted((request.config.rootpath / "sweeps" / "paper").glob("*.yaml")):
        sweep = yaml.safe_load(path.read_text())
        student = sweep["base"]["model"]["name"]
        teacher = sweep["teachers"][sweep["base"]["distill"]["teacher"]]["model"]["name"]
        schedule = "1x" if sweep["base"]["train"]["iterations"] == 87960 else "2x"
        assert (teacher, student, schedule) in keys, path.name
