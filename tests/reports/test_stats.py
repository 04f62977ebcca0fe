"""Seed statistics: the t distribution against tabulated quantiles, the paired test on known numbers."""

import math

import pytest

from reports.stats import (
    Summary,
    best_on_shared_seeds,
    betainc,
    paired_t_test,
    summarize,
    t_cdf,
    t_interval,
    t_quantile,
    t_sf2,
)


@pytest.mark.parametrize(
    ("t", "df", "p"),
    [
        (12.706204736174698, 1, 0.05),  # two-sided 95% quantiles of Student's t
        (4.302652729749464, 2, 0.05),
        (2.570581835636314, 5, 0.05),
        (2.228138851986274, 10, 0.05),
        (5.840909309733350, 3, 0.01),
        (3.169272667175838, 10, 0.01),
        (0.0, 4, 1.0),
    ],
)
def test_two_sided_tail_matches_tables(t, df, p):
    assert t_sf2(t, df) == pytest.approx(p, abs=1e-10)
    assert t_sf2(-t, df) == pytest.approx(p, abs=1e-10)


def test_cdf_symmetry_and_cauchy():
    # df = 1 is the Cauchy distribution: F(t) = 1/2 + atan(t)/pi
    for t in (-3.0, -0.5, 0.2, 1.0, 7.0):
        assert t_cdf(t, 1) == pytest.approx(0.5 + math.atan(t) / math.pi, abs=1e-12)
        assert t_cdf(t, 4) + t_cdf(-t, 4) == pytest.approx(1.0, abs=1e-12)


def test_betainc_edges_and_symmetry():
    assert betainc(2.0, 3.0, 0.0) == 0.0 and betainc(2.0, 3.0, 1.0) == 1.0
    assert betainc(2.0, 3.0, 0.3) == pytest.approx(1 - betainc(3.0, 2.0, 0.7), abs=1e-14)
    assert betainc(1.0, 1.0, 0.37) == pytest.approx(0.37, abs=1e-14)  # uniform
    with pytest.raises(ValueError):
        betainc(1.0, 1.0, 1.5)


def test_summarize_sample_std_and_count():
    s = summarize([30.0, 32.0, 34.0, float("nan")])
    assert (s.mean, s.std, s.n) == (32.0, 2.0, 3)
    one = summarize([5.0])
    assert one.n == 1 and math.isnan(one.std)
    assert summarize([]).n == 0


def test_paired_test_matches_hand_computation():
    # differences 3, 5, 4: mean 4, sd 1, t = 4 / (1 / sqrt 3), df 2
    a = {0: 33.0, 1: 37.0, 2: 38.0, 7: 99.0}  # seed 7 has no partner: ignored
    b = {0: 30.0, 1: 32.0, 2: 34.0}
    r = paired_t_test(a, b)
    assert (r.n, r.mean_diff, r.std_diff) == (3, 4.0, 1.0)
    assert r.t == pytest.approx(4 * math.sqrt(3))
    assert r.p == pytest.approx(0.020204102886728803, abs=1e-12)


def test_paired_test_degenerate_cases():
    assert math.isnan(paired_t_test({0: 1.0}, {0: 0.5}).p)  # one pair: no test
    assert paired_t_test({0: 1.0}, {1: 0.5}).n == 0  # no matched seed
    same = paired_t_test({0: 2.0, 1: 3.0}, {0: 1.0, 1: 2.0})  # identical differences
    assert same.p == 0.0 and same.std_diff == 0.0
    assert paired_t_test({0: 1.0, 1: 2.0}, {0: 1.0, 1: 2.0}).p == 1.0


@pytest.mark.parametrize(
    ("q", "df", "t"),
    [(0.975, 1, 12.706204736174698), (0.975, 2, 4.302652729749464), (0.975, 10, 2.228138851986274),
     (0.995, 3, 5.840909309733350), (0.5, 4, 0.0), (0.025, 2, -4.302652729749464)],
)  # fmt: skip
def test_t_quantile_matches_tables(q, df, t):
    assert t_quantile(q, df) == pytest.approx(t, abs=1e-9)


def test_t_interval_half_width():
    # n = 3, s = 1: 4.3027 / sqrt(3)
    assert t_interval(Summary(5.0, 1.0, 3)) == pytest.approx(4.302652729749464 / math.sqrt(3))
    assert math.isnan(t_interval(Summary(5.0, math.nan, 1)))
    with pytest.raises(ValueError):
        t_quantile(1.0, 3)


def test_best_on_shared_seeds_judges_every_candidate_on_the_same_seeds():
    # b has the best mean over its own seeds (thanks to seed 2, which a lacks) but not over the seeds both have
    a, b = {0: 10.0, 1: 12.0}, {0: 9.0, 1: 11.0, 2: 20.0}
    assert best_on_shared_seeds([a, b]) == (0, [0, 1])
    assert best_on_shared_seeds([{}, {3: 1.0}]) == (1, [3])  # a candidate without values takes no part
    assert best_on_shared_seeds([{}, {}]) == (None, [])
    assert best_on_shared_seeds([{0: 1.0}, {1: 2.0}]) == (1, [])  # nothing shared: each one's own mean
