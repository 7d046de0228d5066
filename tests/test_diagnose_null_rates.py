"""Simulated error rates of every verdict on the quick and full grids.

Under the null (no true effect, but seed noise, a seed effect shared by the arms of a seed, and
for claim 2 a method-to-method spread of the drops) each verdict family must say "agrees" at most
alpha of the time; with a real effect it must say so often (the test could fail). The simulations
are seeded, so the rates are reproducible; docs/diagnose.md quotes them.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from priormatch.diagnose.cells import condition_for_ratio, pmsn_arm
from priormatch.diagnose.config import load_diagnose_config
from priormatch.diagnose.experiments.batch_composition import batch_composition_verdict, prototype_verdict
from priormatch.diagnose.experiments.overlay import overlay_verdict
from priormatch.diagnose.experiments.prior_matching import prior_matching_verdict, uniform_usage_verdict
from priormatch.diagnose.verdicts import ALPHA

SIMULATIONS = 2000
# upper one-sided 99% Monte-Carlo bound on a rate of exactly alpha
TOLERANCE = ALPHA + 2.33 * math.sqrt(ALPHA * (1 - ALPHA) / SIMULATIONS)
SEED_NOISE, SEED_EFFECT, METHOD_SPREAD = 0.01, 0.03, 0.02
GRIDS = ("quick", "full")


def _cell(rng: np.random.Generator, seed_effects: np.ndarray, mean: float, noise: float = SEED_NOISE) -> dict[int, float]:
    return {s: mean + e + rng.normal(0, noise) for s, e in enumerate(seed_effects)}


def claim_two_agrees(config, rng: np.random.Generator, effect: float = 0.0) -> bool:
    """Any condition's claim-2 verdict says agrees; ``effect``: extra true drop of the regularised methods."""
    experiment = config.batch_composition
    conditions = [f"k={k}" for k in experiment.classes_per_batch]
    reference = set(experiment.no_batch_regulariser)
    for condition in conditions:
        seeds = rng.normal(0, SEED_EFFECT, config.seeds)
        shuffled, imbalanced = {}, {}
        for method in experiment.methods:
            drop = rng.normal(0.01, METHOD_SPREAD) + (0.0 if method in reference else effect)
            shuffled[method] = _cell(rng, seeds, 0.75)
            imbalanced[method] = _cell(rng, seeds, 0.75 - drop)
        verdict = batch_composition_verdict(shuffled, imbalanced, reference, condition, comparisons=len(conditions))
        if verdict.outcome == "agrees":
            return True
    return False


def claim_four_agrees(config, rng: np.random.Generator, effect: float = 0.0) -> bool:
    experiment = config.prior_matching
    cells = {}
    for ratio in experiment.imbalance_ratios:
        seeds = rng.normal(0, SEED_EFFECT, config.seeds)
        gain = 0.0 if ratio == 1 else effect
        cells[condition_for_ratio(ratio)] = {experiment.baseline: _cell(rng, seeds, 0.7)} | {
            pmsn_arm(experiment.method, tau): _cell(rng, seeds, 0.7 + gain) for tau in experiment.taus
        }
    return prior_matching_verdict(cells, experiment.baseline, balanced=condition_for_ratio(1.0)).outcome == "agrees"


def claim_three_agrees(config, rng: np.random.Generator, effect: float = 0.0) -> bool:
    methods = config.figures.gallery_methods
    for method in methods:
        seeds = rng.normal(0, SEED_EFFECT, config.seeds)
        purity = {"shuffled": _cell(rng, seeds, 0.6 + effect, 0.05), "k=2": _cell(rng, seeds, 0.6, 0.05)}
        if prototype_verdict(purity, "shuffled", "k=2", method, comparisons=len(methods)).outcome == "agrees":
            return True
    return False


def claim_five_agrees(config, rng: np.random.Generator, effect: float = 0.0) -> bool:
    seeds = rng.normal(0, SEED_EFFECT, config.seeds)
    digit = {"msn": _cell(rng, seeds, 0.4), "pmsn": _cell(rng, seeds, 0.4 + effect)}
    clothing = {"msn": _cell(rng, seeds, 0.8), "pmsn": _cell(rng, seeds, 0.8)}
    return overlay_verdict(digit, clothing, "msn", "pmsn").outcome == "agrees"


def claim_one_agrees(config, rng: np.random.Generator, effect: float = 0.0) -> bool:
    usage = {s: 0.8 + effect + rng.normal(0, 0.02) for s in range(config.seeds)}
    return uniform_usage_verdict("msn", usage, 0.8, "rho=100").outcome == "agrees"


CLAIMS = {
    "claim 1": (claim_one_agrees, 0.05),
    "claim 2": (claim_two_agrees, 0.06),
    "claim 3": (claim_three_agrees, 0.25),
    "claim 4": (claim_four_agrees, 0.04),
    "claim 5": (claim_five_agrees, 0.04),
}


def agrees_rate(claim: str, grid: str, effect: float = 0.0, simulations: int = SIMULATIONS) -> float:
    config = load_diagnose_config(grid)
    simulate, _ = CLAIMS[claim]
    rng = np.random.default_rng([sorted(CLAIMS).index(claim), GRIDS.index(grid)])
    return float(np.mean([simulate(config, rng, effect) for _ in range(simulations)]))


@pytest.mark.parametrize("grid", GRIDS)
@pytest.mark.parametrize("claim", sorted(CLAIMS))
def test_false_agrees_rate_is_at_most_alpha(claim: str, grid: str) -> None:
    assert agrees_rate(claim, grid) <= TOLERANCE


@pytest.mark.parametrize("claim", sorted(CLAIMS))
def test_a_real_effect_is_found(claim: str) -> None:
    """The same rules detect an effect of a few seed-noise units most of the time (quick grid)."""
    _, effect = CLAIMS[claim]
    assert agrees_rate(claim, "quick", effect=effect, simulations=200) > 0.5
