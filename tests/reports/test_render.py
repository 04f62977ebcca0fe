"""Markdown, LaTeX and CSV renderings: escaping, booktabs structure, fixed number formats."""

import re

import pandas as pd

from reports.render import Cell, Table, render_csv, render_latex, render_markdown, tex_escape


def latex_problems(text: str, ncols: int) -> list[str]:
    """What would break when \\input into a document with booktabs + amssymb: unbalanced braces, missing
    rules, unescaped specials, rows with the wrong number of cells."""
    problems = []
    body = [line for line in text.splitlines() if not line.startswith("%")]
    joined = "\n".join(body)
    unescaped = re.sub(r"\\[{}%&#_$]", "", joined)
    depth = 0
    for ch in unescaped:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth < 0:
            problems.append("closing brace without opening")
    if depth:
        problems.append(f"unbalanced braces ({depth})")
    for rule in ("\\toprule", "\\midrule", "\\bottomrule", "\\begin{tabular}", "\\end{tabular}"):
        if rule not in joined:
            problems.append(f"missing {rule}")
    math_free = re.sub(r"\$[^$]*\$", "", unescaped)
    for ch in "_%#":
        if ch in math_free:
            problems.append(f"unescaped {ch!r}")
    rows = [line for line in body if line.endswith("\\\\") and "multicolumn" not in line]
    for line in rows:
        cells = len(re.findall(r"(?<!\\)&", line)) + 1
        if cells != ncols:
            problems.append(f"{cells} cells in {line!r}")
    return problems


def sample_table() -> Table:
    rows = (
        (Cell("fgd_r50 50% R&D #1"), Cell("36.0 ± 2.6 (3)", bold=True), Cell("✓")),
        (Cell("a|b {x} ~^\\"), Cell("−0.5"), Cell("✗")),
    )
    data = pd.DataFrame({"name": ["fgd_r50", "x"], "mean": [36.0, 1 / 3], "p": [1.4e-30, float("nan")]})
    return Table("t", "Title", "Caption with Δ mAP and 5% & a_b", ("Name_x", "mAP", "Sw."), rows, data, (0, 1), "lrc")


def test_latex_is_well_formed_and_escaped():
    text = render_latex(sample_table())
    assert latex_problems(text, 3) == []
    assert "fgd\\_r50 50\\% R\\&D \\#1" in text
    assert "\\textbf{36.0 $\\pm$ 2.6 (3)}" in text
    assert "$\\checkmark$" in text and "$\\times$" in text and "$-$0.5" in text
    assert "\\{x\\} \\textasciitilde{}\\textasciicircum{}\\textbackslash{}" in text
    assert "\\caption{Caption with $\\Delta$ mAP and 5\\% \\& a\\_b}" in text
    assert text.count("\\midrule") == 2  # under the header and between the two groups
    assert "\\label{tab:t}" in text and "\\begin{tabular}{lrc}" in text


def test_latex_problem_checker_catches_mistakes():
    assert "unescaped '_'" in latex_problems(
        "\\toprule a_b \\\\ \\midrule\\bottomrule\\begin{tabular}\\end{tabular}", 1
    )
    assert any("unbalanced" in p for p in latex_problems("{", 1))


def test_tex_escape_all_specials():
    assert tex_escape("_%&#$") == "\\_\\%\\&\\#\\$"


def test_markdown_bold_pipes_alignment():
    text = render_markdown(sample_table())
    assert text.startswith("## Title\n\nCaption")
    assert "| Name_x | mAP | Sw. |" in text and "|:---|---:|:---|" in text
    assert "**36.0 ± 2.6 (3)**" in text and "a\\|b" in text


def test_csv_fixed_point_no_noise():
    assert render_csv(sample_table()) == "name,mean,p\nfgd_r50,36,0\nx,0.333333,\n"


def test_empty_table_renders():
    empty = Table("e", "Empty", "c", ("A", "B"), (), pd.DataFrame(columns=["A", "B"]))
    assert "(no rows)" in render_markdown(empty)
    assert latex_problems(render_latex(empty), 2) == []


def test_tex_escape_comparisons_bars_and_greek():
    """pdflatex's default font encoding prints < > | as ¡ ¿ —, and stops at a bare α (tests/reports/test_latex.py)."""
    assert tex_escape("<0.001 a|b >1") == "\\textless{}0.001 a\\textbar{}b \\textgreater{}1"
    assert tex_escape("α=1, β, γ") == "$\\alpha$=1, $\\beta$, $\\gamma$"
