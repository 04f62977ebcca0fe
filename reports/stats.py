"""Statistics over seeds: mean ± sample std with n, the t confidence interval of a mean, and the paired
t-test between two conditions.

SciPy is not a dependency, so the Student t distribution is computed here from the regularized incomplete
beta function (continued fraction, modified Lentz; Numerical Recipes §6.4): for t with ν degrees of
freedom the two-sided p-value is ``I_{ν/(ν+t²)}(ν/2, 1/2)``. Accurate to ~1e-12 against tabulated quantiles.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Summary:
    """Mean, sample standard deviation (ddof = 1; NaN for n < 2) and count of the finite values."""

    mean: float
    std: float
    n: int


def summarize(values: Iterable[float]) -> Summary:
    arr = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=np.float64)
    if arr.size == 0:
        return Summary(math.nan, math.nan, 0)
    std = float(np.std(arr, ddof=1)) if arr.size > 1 else math.nan
    return Summary(float(np.mean(arr)), std, int(arr.size))


def best_on_shared_seeds(candidates: Sequence[Mapping[int, float]]) -> tuple[int | None, list[int]]:
    """Index of the candidate (seed -> value) with the highest mean over the seeds every candidate has, and those
    seeds: a candidate with more seeds is not judged on seeds the others lack. With no seed in common, each one's
    own mean. ``None`` when no candidate has a value; ties go to the first."""
    present = [i for i, c in enumerate(candidates) if c]
    if not present:
        return None, []
    common = sorted(set.intersection(*(set(candidates[i]) for i in present)))

    def mean(i: int) -> float:
        return summarize([candidates[i][s] for s in common] if common else candidates[i].values()).mean

    return max(present, key=mean), common


def _betacf(a: float, b: float, x: float, *, eps: float = 1e-15, max_iter: int = 500) -> float:
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, max_iter + 1):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < eps:
            return h
    raise ArithmeticError(f"incomplete beta: no convergence for a={a}, b={b}, x={x}")


def betainc(a: float, b: float, x: float) -> float:
    """Regularized incomplete beta function I_x(a, b) for a, b > 0 and 0 <= x <= 1."""
    if not 0.0 <= x <= 1.0:
        raise ValueError(f"betainc: x must lie in [0, 1], got {x}")
    if x in (0.0, 1.0):
        return x
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _betacf(b, a, 1.0 - x) / b


def t_sf2(t: float, df: float) -> float:
    """Two-sided tail probability P(|T| >= |t|) of Student's t with ``df`` degrees of freedom."""
    if df <= 0:
        raise ValueError(f"t distribution: df must be positive, got {df}")
    if math.isinf(t):
        return 0.0
    return betainc(df / 2.0, 0.5, df / (df + t * t))


def t_cdf(t: float, df: float) -> float:
    """CDF of Student's t distribution."""
    half = 0.5 * t_sf2(t, df)
    return 1.0 - half if t >= 0 else half


@dataclass(frozen=True)
class PairedTest:
    """Paired t-test of ``a - b`` over matched seeds: mean and std of the differences, n, t and two-sided p."""

    mean_diff: float
    std_diff: float
    n: int
    t: float
    p: float


def paired_t_test(a: Mapping[int, float], b: Mapping[int, float]) -> PairedTest:
    """Two-sided paired t-test of the values of ``a`` against ``b`` over the seeds both have.

    With fewer than two matched seeds ``t`` and ``p`` are NaN. Identical differences (zero spread) give
    p = 0 when their mean is non-zero and p = 1 when it is zero.
    """
    seeds = sorted(s for s in set(a) & set(b) if math.isfinite(a[s]) and math.isfinite(b[s]))
    diffs = np.asarray([a[s] - b[s] for s in seeds], dtype=np.float64)
    n = int(diffs.size)
    if n == 0:
        return PairedTest(math.nan, math.nan, 0, math.nan, math.nan)
    mean = float(diffs.mean())
    if n < 2:
        return PairedTest(mean, math.nan, n, math.nan, math.nan)
    std = float(diffs.std(ddof=1))
    if std == 0.0:
        return PairedTest(mean, 0.0, n, math.copysign(math.inf, mean) if mean else 0.0, 0.0 if mean else 1.0)
    t = mean / (std / math.sqrt(n))
    return PairedTest(mean, std, n, t, t_sf2(t, n - 1))


def t_quantile(q: float, df: float) -> float:
    """The ``q`` quantile of Student's t with ``df`` degrees of freedom (bisection on :func:`t_cdf` to 1e-12)."""
    if not 0.0 < q < 1.0:
        raise ValueError(f"t quantile: q must lie in (0, 1), got {q}")
    if q < 0.5:
        return -t_quantile(1.0 - q, df)
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < q:
        lo, hi = hi, hi * 2.0
    while hi - lo > 1e-12 * max(1.0, hi):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if t_cdf(mid, df) < q else (lo, mid)
    return 0.5 * (lo + hi)


def t_interval(s: Summary, level: float = 0.95) -> float:
    """Half-width of the two-sided ``level`` t confidence interval of the mean, ``t_{(1+level)/2, n-1} · std /
    √n`` (NaN for n < 2)."""
    if s.n < 2 or not math.isfinite(s.std):
        return math.nan
    return t_quantile(0.5 + level / 2.0, s.n - 1) * s.std / math.sqrt(s.n)


def minimal_detectable_difference(std_diff: float, n: int, *, alpha: float = 0.05, power: float = 0.8) -> float:
    """The smallest true mean paired difference that a two-sided paired t-test at level ``alpha`` detects with
    probability ``power`` over ``n`` seeds whose differences have standard deviation ``std_diff``:
    ``(t_{1-alpha/2, n-1} + t_{power, n-1}) · std_diff / √n`` (the usual t approximation; NaN for n < 2)."""
    if n < 2 or not math.isfinite(std_diff):
        return math.nan
    df = n - 1
    return (t_quantile(1.0 - alpha / 2.0, df) + t_quantile(power, df)) * std_diff / math.sqrt(n)


def seeds_for_difference(std_diff: float, target: float, *, alpha: float = 0.05, power: float = 0.8) -> int | None:
    """The fewest seeds whose minimal detectable difference is at most ``target`` (None beyond 1000 or for a
    non-finite spread)."""
    if not math.isfinite(std_diff) or target <= 0:
        return None
    for n in range(2, 1001):
        if minimal_detectable_difference(std_diff, n, alpha=alpha, power=power) <= target:
            return n
    return None
