"""The visual language: one fixed colour and marker per method, distinct looks for variants, W&B rows coloured."""

import re

import pytest

from benchmark.distill.methods import METHODS
from reports.load import load_runs
from reports.style import (
    ALONE_COLOR,
    METHOD_COLORS,
    TEACHER_LOOK,
    looks,
    method_color,
    method_look,
    method_marker,
    pair_label,
    shade,
)


def test_every_method_has_its_own_colour_and_marker():
    methods = [m for m in (*METHODS, "fbkd", "head") if m != "none"]  # registered and published-only methods
    assert set(methods) <= set(METHOD_COLORS)
    assert len({method_color(m) for m in methods}) == len(methods)
    assert len({method_marker(m) for m in methods}) == len(methods)
    assert method_color("none") == ALONE_COLOR and TEACHER_LOOK.color == "#000000"
    assert all(re.fullmatch(r"#[0-9A-F]{6}", method_color(m)) for m in [*methods, "none", "someday_kd"])
    assert method_color("someday_kd") == method_color("someday_kd")  # unknown names: stable spare colour


def test_variants_share_the_family_but_never_look_the_same():
    base, second, third = (method_look("dfmsd", k) for k in range(3))
    assert base.color == method_color("dfmsd")
    for other in (second, third):
        assert (other.color, other.marker, other.hatch) != (base.color, base.marker, base.hatch)
        assert other.color != base.color and other.marker != base.marker and other.hatch != base.hatch
    assert second.color == shade(base.color, 0.45)


def test_looks_number_variants_per_method_in_display_order():
    methods = {"a": "fgd", "b": "dfmsd", "c": "dfmsd", "d": "dfmsd"}
    suffixes = {"a": "", "b": "S-a", "c": "S-b", "d": "S-a"}  # d is another pair's S-a: same look as b
    drawn = looks(methods, suffixes, ["a", "b", "c", "d"])
    assert drawn["a"] == method_look("fgd", 0) and drawn["b"] == method_look("dfmsd", 0)
    assert drawn["c"] == method_look("dfmsd", 1) and drawn["d"] == drawn["b"]


def test_pair_label_on_two_lines():
    assert pair_label("big", "small") == "big →\nsmall"
    assert pair_label("", "small") == "small"


def test_wandb_rows_carry_the_method_colour(cmp_sweep):
    from reports.tables.comparison import comparison_table
    from reports.wandb_log import method_colors, table_frame

    frame = load_runs([cmp_sweep])
    data = table_frame(comparison_table(frame))
    assert list(data.columns).index("color") == list(data.columns).index("method") + 1
    assert dict(zip(data["method"], data["color"])) == {
        "none": ALONE_COLOR,
        "fgd": method_color("fgd"),
        "dfmsd": method_color("dfmsd"),
    }
    assert method_colors(frame)["mgd"] == method_color("mgd")


@pytest.mark.parametrize("amount", [0.45, -0.35])
def test_shade_moves_towards_white_or_black(amount):
    lighter = shade("#808080", amount)
    assert (int(lighter[1:3], 16) > 0x80) == (amount > 0)


def test_the_plain_variant_keeps_the_method_look():
    drawn = looks({"a": "dfmsd", "b": "dfmsd"}, {"a": "Enhance=✗", "b": ""}, ["a", "b"])
    assert drawn["b"] == method_look("dfmsd", 0) and drawn["a"] == method_look("dfmsd", 1)
