"""A synthetic rare-regime benchmark: series from distinct generative processes with long-tailed frequencies.

Each series (1 channel, ``length`` points, time ``t`` in [0, 1)) comes from one regime. The regime's
signal is scaled to unit standard deviation, Gaussian noise of ``noise_std`` is added, and the series
is z-normalised, so every series has mean 0 and standard deviation 1: regimes differ in shape and
spectrum only, never in level or spread. Frequencies are in cycles per series, so the benchmark
does not depend on ``length`` (use ``length >= 64`` so the fastest regime is resolved). Regimes:

0. ``sine``: sin(2π f t + φ), f ~ U(3, 6).
1. ``square``: sign of the same sine (same band as ``sine``, differs by its harmonics).
2. ``sawtooth``: rising sawtooth, f ~ U(3, 6).
3. ``ar2_resonant``: AR(2) with poles at radius 0.97 and angle 2π f / length, f ~ U(3, 6): an oscillation
   in the ``sine`` band whose phase and amplitude wander.
4. ``chirp``: sin(2π (f0 t + k t² / 2) + φ), f0 ~ U(1, 3), k ~ U(8, 14): frequency rises over time.
5. ``trend_break``: a random walk on a piecewise-linear trend whose slope changes sign at U(0.3, 0.7).
6. ``level_shift``: AR(1) (φ = 0.5) noise with one step of ±U(2, 4) at U(0.2, 0.8).
7. ``spikes``: AR(1) (φ = 0.5) noise with 2–5 isolated spikes of ±U(4, 8).
8. ``burst``: a sine with f ~ U(12, 20) under a Gaussian envelope (width 0.08) centred at U(0.2, 0.8).
9. ``volatility_switch``: white noise whose standard deviation triples at U(0.3, 0.7).

Training frequencies (``profile="zipf"``): the head regimes get counts proportional to
``1 / rank ** zipf_exponent`` (largest-remainder rounding, at least 1 each) in a seeded random order of
regimes, and the last ``rare_regimes`` of that order are planted with only ``rare_count`` examples each.
``profile="uniform"`` gives the head regimes equal counts. Labels are regime indices (fixed, 0..num_regimes-1).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np

from priormatch.data.arrays import DatasetSplits, LabeledArrays
from priormatch.errors import PriormatchError

Profile = Literal["zipf", "uniform"]
RegimeGenerator = Callable[[np.random.Generator, int, int], np.ndarray]  # (rng, n, length) -> (n, length)


def _uniform(rng: np.random.Generator, n: int, low: float, high: float) -> np.ndarray:
    """(n, 1) draws from U(low, high), ready to broadcast over time."""
    return rng.uniform(low, high, size=(n, 1))


def _time(length: int) -> np.ndarray:
    return np.arange(length)[None, :] / length  # (1, length) in [0, 1)


def _ar(rng: np.random.Generator, n: int, length: int, phi1: np.ndarray | float, phi2: np.ndarray | float) -> np.ndarray:
    """(n, length) AR(2) paths x_t = phi1 x_{t-1} + phi2 x_{t-2} + e_t, after a burn-in of ``length`` steps."""
    phi1 = np.broadcast_to(np.asarray(phi1, dtype=np.float64).reshape(-1), (n,))
    phi2 = np.broadcast_to(np.asarray(phi2, dtype=np.float64).reshape(-1), (n,))
    noise = rng.standard_normal((n, 2 * length))
    path = np.zeros((n, 2 * length))
    for step in range(2, 2 * length):  # loop over time, vectorised over series
        path[:, step] = phi1 * path[:, step - 1] + phi2 * path[:, step - 2] + noise[:, step]
    return path[:, length:]


def sine(rng: np.random.Generator, n: int, length: int) -> np.ndarray:
    return np.sin(2 * np.pi * _uniform(rng, n, 3, 6) * _time(length) + _uniform(rng, n, 0, 2 * np.pi))


def square(rng: np.random.Generator, n: int, length: int) -> np.ndarray:
    return np.sign(sine(rng, n, length))


def sawtooth(rng: np.random.Generator, n: int, length: int) -> np.ndarray:
    cycles = _uniform(rng, n, 3, 6) * _time(length) + _uniform(rng, n, 0, 1)
    return 2 * (cycles % 1.0) - 1


def ar2_resonant(rng: np.random.Generator, n: int, length: int) -> np.ndarray:
    radius, angle = 0.97, 2 * np.pi * _uniform(rng, n, 3, 6)[:, 0] / length
    return _ar(rng, n, length, 2 * radius * np.cos(angle), -(radius**2))


def chirp(rng: np.random.Generator, n: int, length: int) -> np.ndarray:
    t = _time(length)
    phase = _uniform(rng, n, 1, 3) * t + _uniform(rng, n, 8, 14) * t**2 / 2
    return np.sin(2 * np.pi * phase + _uniform(rng, n, 0, 2 * np.pi))


def trend_break(rng: np.random.Generator, n: int, length: int) -> np.ndarray:
    t, breakpoint = _time(length), _uniform(rng, n, 0.3, 0.7)
    slope = _uniform(rng, n, 2, 4) * rng.choice([-1.0, 1.0], size=(n, 1))
    trend = slope * np.minimum(t, breakpoint) - slope * np.maximum(t - breakpoint, 0)
    walk = np.cumsum(rng.standard_normal((n, length)), axis=1) / np.sqrt(length)
    return trend + 0.3 * walk


def level_shift(rng: np.random.Generator, n: int, length: int) -> np.ndarray:
    step = _uniform(rng, n, 2, 4) * rng.choice([-1.0, 1.0], size=(n, 1))
    return _ar(rng, n, length, 0.5, 0.0) + step * (_time(length) >= _uniform(rng, n, 0.2, 0.8))


def spikes(rng: np.random.Generator, n: int, length: int) -> np.ndarray:
    signal = _ar(rng, n, length, 0.5, 0.0)
    for i, count in enumerate(rng.integers(2, 6, size=n)):
        where = rng.choice(length, size=count, replace=False)
        signal[i, where] += rng.uniform(4, 8, size=count) * rng.choice([-1.0, 1.0], size=count)
    return signal


def burst(rng: np.random.Generator, n: int, length: int) -> np.ndarray:
    t = _time(length)
    envelope = np.exp(-0.5 * ((t - _uniform(rng, n, 0.2, 0.8)) / 0.08) ** 2)
    return envelope * np.sin(2 * np.pi * _uniform(rng, n, 12, 20) * t + _uniform(rng, n, 0, 2 * np.pi))


def volatility_switch(rng: np.random.Generator, n: int, length: int) -> np.ndarray:
    scale = np.where(_time(length) >= _uniform(rng, n, 0.3, 0.7), 3.0, 1.0)
    return scale * rng.standard_normal((n, length))


REGIMES: dict[str, RegimeGenerator] = {
    "sine": sine,
    "square": square,
    "sawtooth": sawtooth,
    "ar2_resonant": ar2_resonant,
    "chirp": chirp,
    "trend_break": trend_break,
    "level_shift": level_shift,
    "spikes": spikes,
    "burst": burst,
    "volatility_switch": volatility_switch,
}


def regime_counts(
    n_series: int, num_regimes: int, *, profile: Profile, zipf_exponent: float, rare_regimes: int, rare_count: int
) -> np.ndarray:
    """(num_regimes,) counts by frequency rank: head regimes by ``profile``, then ``rare_count`` per rare regime."""
    head = num_regimes - rare_regimes
    n_head = n_series - rare_regimes * rare_count
    if n_head < head:
        raise PriormatchError(
            f"make_regime_series: n_series={n_series} leaves {n_head} series for {head} head regimes; "
            "increase n_series or lower rare_regimes/rare_count"
        )
    if profile == "zipf":
        weights = 1.0 / np.arange(1, head + 1) ** zipf_exponent
    elif profile == "uniform":
        weights = np.ones(head)
    else:
        raise PriormatchError(f"make_regime_series: unknown profile {profile!r}; use 'zipf' or 'uniform'")
    return np.concatenate([_largest_remainder(n_head, weights), np.full(rare_regimes, rare_count)]).astype(np.int64)


def _largest_remainder(total: int, weights: np.ndarray) -> np.ndarray:
    """Integer counts >= 1 summing to ``total`` and proportional to ``weights`` (total >= len(weights))."""
    counts = np.ones(len(weights), dtype=np.int64)
    ideal = (total - len(weights)) * weights / weights.sum()
    counts += np.floor(ideal).astype(np.int64)
    leftover = total - counts.sum()
    counts[np.argsort(-(ideal - np.floor(ideal)), kind="stable")[:leftover]] += 1
    return counts


def make_regime_series(
    n_series: int,
    length: int,
    *,
    num_regimes: int = 8,
    profile: Profile = "zipf",
    zipf_exponent: float = 1.0,
    rare_regimes: int = 2,
    rare_count: int = 3,
    noise_std: float = 0.3,
    seed: int = 0,
) -> LabeledArrays:
    """x (n_series, 1, length) float32 z-normalised series, y (n_series,) regime index; see the module docstring.

    The regimes used are the first ``num_regimes`` of :data:`REGIMES`; which regime gets which frequency
    rank is a permutation drawn from ``seed``.
    """
    _check_arguments(length, num_regimes, rare_regimes, rare_count, noise_std)
    rng = np.random.default_rng(seed)
    order = rng.permutation(num_regimes)  # order[r] = regime at frequency rank r
    by_rank = regime_counts(
        n_series,
        num_regimes,
        profile=profile,
        zipf_exponent=zipf_exponent,
        rare_regimes=rare_regimes,
        rare_count=rare_count,
    )
    counts = np.zeros(num_regimes, dtype=np.int64)
    counts[order] = by_rank
    return _generate(counts, length, noise_std, rng)


def make_regime_splits(
    n_train: int,
    n_test_per_regime: int,
    length: int,
    *,
    num_regimes: int = 8,
    zipf_exponent: float = 1.0,
    rare_regimes: int = 2,
    rare_count: int = 3,
    noise_std: float = 0.3,
    seed: int = 0,
) -> DatasetSplits:
    """A Zipf long-tailed train split of ``n_train`` series and a balanced test split (``n_test_per_regime`` each)."""
    train_seed, test_seed = (int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed).spawn(2))
    train = make_regime_series(
        n_train,
        length,
        num_regimes=num_regimes,
        profile="zipf",
        zipf_exponent=zipf_exponent,
        rare_regimes=rare_regimes,
        rare_count=rare_count,
        noise_std=noise_std,
        seed=train_seed,
    )
    if n_test_per_regime < 1:
        raise PriormatchError(f"make_regime_splits: n_test_per_regime={n_test_per_regime}; use at least 1")
    _check_arguments(length, num_regimes, 0, 0, noise_std)
    counts = np.full(num_regimes, n_test_per_regime, dtype=np.int64)
    test = _generate(counts, length, noise_std, np.random.default_rng(test_seed))
    return DatasetSplits(f"regimes{num_regimes}-zipf{zipf_exponent:g}", train, test)


def _check_arguments(length: int, num_regimes: int, rare_regimes: int, rare_count: int, noise_std: float) -> None:
    if not 2 <= num_regimes <= len(REGIMES):
        raise PriormatchError(f"make_regime_series: num_regimes={num_regimes}; use 2..{len(REGIMES)}")
    if not 0 <= rare_regimes < num_regimes:
        raise PriormatchError(f"make_regime_series: rare_regimes={rare_regimes}; use 0..{num_regimes - 1}")
    if rare_regimes and rare_count < 1:
        raise PriormatchError(f"make_regime_series: rare_count={rare_count}; use at least 1")
    if length < 16:
        raise PriormatchError(f"make_regime_series: length={length}; use at least 16 (64 or more recommended)")
    if noise_std < 0:
        raise PriormatchError(f"make_regime_series: noise_std={noise_std}; use a standard deviation >= 0")


def _generate(counts: np.ndarray, length: int, noise_std: float, rng: np.random.Generator) -> LabeledArrays:
    """counts[k] series of regime k, shuffled: x (n, 1, length) float32, y (n,) int64."""
    names = tuple(REGIMES)[: len(counts)]
    blocks = [_regime_block(REGIMES[name], int(count), length, noise_std, rng) for name, count in zip(names, counts)]
    x = np.concatenate(blocks)
    y = np.repeat(np.arange(len(counts)), counts)
    shuffle = rng.permutation(len(y))
    return LabeledArrays(x[shuffle, None, :].astype(np.float32), y[shuffle].astype(np.int64), names)


def _regime_block(generate: RegimeGenerator, n: int, length: int, noise_std: float, rng: np.random.Generator) -> np.ndarray:
    """(n, length) series of one regime: unit-variance signal + noise, then z-normalised."""
    signal = _zscore(generate(rng, n, length))
    return _zscore(signal + noise_std * rng.standard_normal(signal.shape))


def _zscore(x: np.ndarray) -> np.ndarray:
    return (x - x.mean(axis=1, keepdims=True)) / np.maximum(x.std(axis=1, keepdims=True), 1e-8)
