"""Whole reports: files per format, byte-identical reruns, the CLI (including its one-line errors)."""

import re

from benchmark.cli import main
from reports.load import load_runs
from reports.paper import load_paper_rows
from reports.report import parse_formats, write_report


def tree_bytes(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_report_files_and_determinism(cmp_sweep, tmp_path):
    frame = load_runs([cmp_sweep])
    rows = load_paper_rows()
    _, first = write_report(frame, tmp_path / "a", paper_rows=rows)
    write_report(load_runs([cmp_sweep]), tmp_path / "b", paper_rows=rows)
    names = sorted(p.relative_to(tmp_path / "a").as_posix() for p in first)
    assert "report.md" in names and "tex/comparison.tex" in names and "csv/not_finished.csv" in names
    assert {"tex/ablation_cmp.tex", "tex/cost.tex", "tex/paper_vs_measured.tex"} <= set(names)
    assert tree_bytes(tmp_path / "a") == tree_bytes(tmp_path / "b")
    text = (tmp_path / "a" / "report.md").read_text()
    assert "## Not finished" in text and "CUDA out of memory" in text
    assert not re.search(r"\d{4}-\d{2}-\d{2}", text)  # no dates
    assert str(tmp_path) not in text and str(cmp_sweep) not in text  # no absolute paths


def test_formats_subset_and_errors(cmp_sweep, tmp_path):
    _, written = write_report(load_runs([cmp_sweep]), tmp_path, formats=parse_formats("csv"))
    assert written and all(p.suffix == ".csv" for p in written)
    for bad in ("docx", "", "md,pdf"):
        try:
            parse_formats(bad)
        except ValueError as exc:
            assert "choose from md, tex, csv" in str(exc)
        else:
            raise AssertionError(f"{bad!r} accepted")


def test_cli_report_and_plot(cmp_sweep, tmp_path, capsys):
    assert main(["report", str(cmp_sweep), "--out", str(tmp_path / "r"), "--format", "md,tex"]) == 0
    out = capsys.readouterr().out
    assert "11 runs (9 done, 2 not finished)" in out
    assert (tmp_path / "r" / "report.md").is_file() and not (tmp_path / "r" / "csv").exists()
    assert main(["plot", str(cmp_sweep), "--out", str(tmp_path / "f")]) == 0
    assert (tmp_path / "f" / "delta_map.png").is_file() and (tmp_path / "f" / "speed_accuracy.pdf").is_file()


def test_cli_user_errors_exit_2(tmp_path, capsys):
    assert main(["report", str(tmp_path / "missing")]) == 2
    assert "no such directory" in capsys.readouterr().err
    assert main(["report", str(tmp_path)]) == 2
    assert "no run records" in capsys.readouterr().err
    assert main(["plot", str(tmp_path)]) == 2
