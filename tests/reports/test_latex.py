"""Every ``.tex`` a report writes compiles with a real TeX engine, and renders to a PNG that can be looked at.

Each table is ``\\input`` into a small document (article, ``booktabs`` + ``amssymb`` as the files ask for, a
page wide enough for any table, captions 17 cm wide), compiled with ``pdflatex -halt-on-error`` (an
unescaped special or a Unicode character LaTeX cannot set is an error), its text read back with
``pdftotext`` (a character set in the wrong font encoding, ``<`` as ``¡``, fails), and the PDF rendered with
``pdftoppm`` and cropped to the table. The engine comes from Debian's texlive-latex-base +
texlive-latex-recommended (booktabs, caption) and poppler-utils (pdftotext, pdftoppm), installed by
``scripts/install_tex.sh`` (run by ``scripts/test.sh``); without them the tests are skipped with that
reason. Set ``TEX_PREVIEW_DIR`` to keep the PNGs.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image, ImageOps

from reports.load import load_runs
from reports.paper import load_paper_rows
from reports.report import write_report

EXAMPLES = Path(__file__).parents[2] / "reports" / "examples"
# A two-column US-letter paper page, as a conference template has it: tables must fit its margins.
DOCUMENT = r"""\documentclass[twocolumn]{article}
\usepackage{booktabs,amssymb,graphicx}
\usepackage[letterpaper,margin=2cm]{geometry}
\pagestyle{empty}
\begin{document}
\input{%s}
\end{document}
"""


@pytest.fixture(scope="module")
def tex() -> None:
    tools = ("pdflatex", "pdftoppm", "pdftotext", "pdfinfo", "kpsewhich")
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if not missing and subprocess.run(["kpsewhich", "booktabs.sty"], capture_output=True).returncode != 0:
        missing.append("booktabs.sty")
    if missing:
        pytest.skip(f"no {', '.join(missing)}: run scripts/install_tex.sh (Debian texlive-latex-base, "
                    "texlive-latex-recommended, poppler-utils) to compile the report's LaTeX")  # fmt: skip


def compile_table(tex_file: Path, work: Path) -> Path:
    """PDF of ``tex_file`` in the small document, rendered to ``<work>/<stem>.png``; fails with the TeX log."""
    work.mkdir(parents=True, exist_ok=True)
    doc = work / f"{tex_file.stem}_doc.tex"
    doc.write_text(DOCUMENT % tex_file.resolve().as_posix(), encoding="utf-8")
    cmd = ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", doc.name]
    done = subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=120)
    log = (work / f"{doc.stem}.log").read_text(encoding="utf-8", errors="replace")
    assert done.returncode == 0, f"{tex_file.name} does not compile:\n" + log[-3000:]
    overfull = [line for line in log.splitlines() if line.startswith("Overfull \\hbox")]
    assert not overfull, f"{tex_file.name} runs into the margin of a two-column page: {overfull}"
    pdf = work / f"{doc.stem}.pdf"
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert not set(text) & set("¡¿"), f"{tex_file.name}: < or > set in the wrong font encoding"
    png = work / tex_file.stem
    # a table* floats to the next page of a two-column document: render the last page (the table's)
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    last = next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:"))
    subprocess.run(["pdftoppm", "-png", "-r", "150", "-f", last, "-l", last, "-singlefile", str(pdf), str(png)],
                   check=True)  # fmt: skip
    png = png.with_suffix(".png")
    page = Image.open(png).convert("L")
    box = ImageOps.invert(page).getbbox()  # the table on its page, cropped for looking at
    assert box is not None, f"{tex_file.name}: empty page"
    page.crop((max(box[0] - 20, 0), max(box[1] - 20, 0), box[2] + 20, box[3] + 20)).save(png)
    return png


def check_all_tex(out: Path, work: Path) -> list[Path]:
    tex_files = sorted((out / "tex").glob("*.tex"))
    assert tex_files
    pngs = [compile_table(f, work) for f in tex_files]
    keep = os.environ.get("TEX_PREVIEW_DIR")
    for png in pngs:
        assert png.stat().st_size > 1_000
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            shutil.copy(png, Path(keep) / f"{out.name}_{png.name}")
    return pngs


def test_every_table_kind_compiles(tex, cmp_sweep, tmp_path, rec):
    """Comparison, ablation, sensitivity, paper vs measured, cost and not-finished tables of synthetic records
    (with a failed run's reason, Greek axis names, ✓/✗ switches and underscores in names)."""
    for seed in (0, 1):
        for temp in (0.3, 0.7):
            cfg = rec.make_config(seed=seed, method="dfmsd", teacher="teacher_t", options={"temp": temp})
            rec.write_run(cmp_sweep, cfg, mAP=0.33 + temp / 10)
        cfg = rec.make_config(seed=seed, method="dfmsd", teacher="teacher_t", options={"alpha": 1.0, "enhance": False})
        rec.write_run(cmp_sweep, cfg, mAP=0.35)
    out = tmp_path / "synthetic"
    _, written = write_report(load_runs([cmp_sweep]), out, formats=("tex",), paper_rows=load_paper_rows())
    assert "\\textless{}0.001" in (out / "tex" / "comparison.tex").read_text()
    names = {p.stem for p in written}
    assert {"comparison", "ablation_cmp", "paper_vs_measured", "cost", "not_finished"} <= names
    assert any(n.startswith("sensitivity_cmp_") for n in names)
    check_all_tex(out, tmp_path / "work")


def test_example_report_compiles(tex, tmp_path):
    out = tmp_path / "neon"
    write_report(load_runs([EXAMPLES / "neon" / "records"]), out, formats=("tex",))
    check_all_tex(out, tmp_path / "work")
