"""Verdict logic on synthetic per-seed numbers (seed -> value), the gate and summary records."""

import math

from priormatch.diagnose.experiments.batch_composition import batch_composition_verdict, prototype_verdict
from priormatch.diagnose.experiments.overlay import overlay_verdict
from priormatch.diagnose.experiments.prior_matching import prior_matching_verdict, uniform_usage_verdict
from priormatch.diagnose.verdicts import ALPHA, Verdict, learning_gate, not_judged

REFERENCE = {"mae", "data2vec"}


def _seeds(mean, spread=0.005):
    return {0: mean - spread, 1: mean, 2: mean + spread}


def _shifted(cell, shift):
    return {seed: value + shift for seed, value in cell.items()}


def test_batch_composition_agrees_when_regularised_methods_drop_more():
    shuffled = {m: _seeds(0.80) for m in ("simclr", "msn", "vicreg", "mae", "data2vec")}
    imbalanced = {"simclr": _seeds(0.70), "msn": _seeds(0.68), "vicreg": _seeds(0.69), "mae": _seeds(0.79), "data2vec": _seeds(0.795)}
    verdict = batch_composition_verdict(shuffled, imbalanced, REFERENCE, "k=2")
    assert verdict.outcome == "agrees" and verdict.effect > 0.09 and verdict.ci_low > 0
    assert "simclr -10.0 pp" in verdict.text and "methods as units" in verdict.text and "detectable" in verdict.text


def test_batch_composition_uses_methods_as_units():
    """Seeds agree perfectly within each method, but the methods scatter: no claim on 2 + 2 methods."""
    shuffled = {m: _seeds(0.80, 0.0) for m in ("simclr", "msn", "mae", "data2vec")}
    imbalanced = {"simclr": _seeds(0.70, 0.0), "msn": _seeds(0.79, 0.0), "mae": _seeds(0.80, 0.0), "data2vec": _seeds(0.72, 0.0)}
    assert batch_composition_verdict(shuffled, imbalanced, REFERENCE, "k=2").outcome == "inconclusive"


def test_batch_composition_disagrees_when_reference_drops_more():
    shuffled = {m: _seeds(0.80) for m in ("msn", "simclr", "mae", "data2vec")}
    imbalanced = {"msn": _seeds(0.80), "simclr": _seeds(0.801), "mae": _seeds(0.70), "data2vec": _seeds(0.702)}
    assert batch_composition_verdict(shuffled, imbalanced, REFERENCE, "k=2").outcome == "disagrees"


def test_batch_composition_inconclusive_without_both_groups():
    shuffled, imbalanced = {"msn": _seeds(0.8)}, {"msn": _seeds(0.6)}
    verdict = batch_composition_verdict(shuffled, imbalanced, REFERENCE, "k=2")
    assert verdict.outcome == "inconclusive" and "with and without a batch regulariser" in verdict.text


def test_prior_matching_agrees_only_when_prior_helps_long_tail_and_not_balanced():
    cells = {
        "balanced": {"msn": _seeds(0.80), "pmsn tau=1": _seeds(0.78)},
        "rho=100": {"msn": _seeds(0.70), "pmsn tau=1": _seeds(0.75)},
    }
    assert prior_matching_verdict(cells, "msn").outcome == "agrees"
    cells["balanced"]["pmsn tau=1"] = _seeds(0.85)
    assert prior_matching_verdict(cells, "msn").outcome == "disagrees"


def test_prior_matching_pairs_by_seed():
    """A seed effect shared by the arms cancels in the paired difference."""
    msn = {0: 0.60, 1: 0.70, 2: 0.80}
    cells = {"balanced": {"msn": msn, "pmsn": msn}, "rho=100": {"msn": msn, "pmsn": _shifted(msn, 0.02)}}
    assert prior_matching_verdict(cells, "msn").outcome == "agrees"
    cells["rho=100"]["pmsn"] = {0: 0.80, 1: 0.70, 2: 0.60}  # same values, other seeds: no paired effect
    assert prior_matching_verdict(cells, "msn").outcome == "inconclusive"


def test_prior_matching_corrects_for_the_number_of_arms():
    """An effect that passes one test at 5% fails when it is the best of ten arms (alpha / 10 each)."""
    msn = {0: 0.70, 1: 0.71, 2: 0.72}
    arm = {0: 0.71, 1: 0.725, 2: 0.728}  # paired differences 0.010, 0.015, 0.008
    one = {"balanced": {"msn": msn}, "rho=100": {"msn": msn, "pmsn": arm}}
    assert prior_matching_verdict(one, "msn").outcome == "agrees"
    many = {"balanced": {"msn": msn}, "rho=100": {"msn": msn, **{f"pmsn {i}": msn for i in range(9)}, "pmsn": arm}}
    assert prior_matching_verdict(many, "msn").outcome == "inconclusive"


def test_prior_matching_inconclusive_when_nothing_differs():
    noisy = {0: 0.6, 1: 0.7, 2: 0.8}
    cells = {
        "balanced": {"msn": noisy, "pmsn tau=1": {0: 0.8, 1: 0.7, 2: 0.6}},
        "rho=100": {"msn": noisy, "pmsn tau=1": {0: 0.8, 1: 0.7, 2: 0.6}},
    }
    assert prior_matching_verdict(cells, "msn").outcome == "inconclusive"


def test_overlay_verdict_follows_the_digit_accuracy():
    clothing = {"msn": _seeds(0.8), "pmsn tau=1": _seeds(0.8)}
    up = overlay_verdict({"msn": _seeds(0.3), "pmsn tau=1": _seeds(0.5)}, clothing, "msn", "pmsn tau=1")
    down = overlay_verdict({"msn": _seeds(0.5), "pmsn tau=1": _seeds(0.3)}, clothing, "msn", "pmsn tau=1")
    assert (up.outcome, down.outcome) == ("agrees", "disagrees")
    assert str(up).startswith("Agrees with the paper.")


def test_prototype_and_uniform_usage_verdicts():
    purity = {"shuffled": _seeds(0.9), "k=2": _seeds(0.5)}
    assert prototype_verdict(purity, "shuffled", "k=2", "msn").outcome == "agrees"
    assert uniform_usage_verdict("msn", {0: 0.98, 1: 0.99, 2: 0.985}, 0.6, "rho=100").outcome == "agrees"
    assert uniform_usage_verdict("msn", {0: 0.40, 1: 0.45, 2: 0.42}, 0.6, "rho=100").outcome == "disagrees"
    assert uniform_usage_verdict("msn", {0: 0.7}, 0.6, "rho=100").outcome == "inconclusive"  # one seed: no test


def test_gate_refuses_features_that_did_not_learn():
    assert learning_gate({"msn": [0.10, 0.12, 0.11], "mae": [0.05, 0.06, 0.04]}) is None
    reason = learning_gate({"msn": [0.10, 0.12, 0.11], "mae": [0.01, -0.02, 0.0]})
    assert reason is not None and "mae" in reason and "msn (" not in reason
    assert "one run" in learning_gate({"msn": [0.2]}) and "no untrained-encoder baseline" in learning_gate({"msn": []})
    verdict = not_judged(reason)
    assert verdict.outcome == "not_judged" and str(verdict).startswith("Not judged: the encoders did not learn enough.")


def test_summary_record_has_the_contract_keys():
    record = Verdict("agrees", "text", ALPHA, 0.03, 0.01, 0.05).record("claim 4")
    assert record == {
        "claim": "claim 4",
        "verdict": "agrees",
        "alpha": 0.05,
        "effect": 0.03,
        "ci_low": 0.01,
        "ci_high": 0.05,
        "text": "text",
    }
    assert not_judged("why").record("claim 2")["effect"] is None and not math.isnan(ALPHA)


def test_prior_matching_records_the_deciding_comparison():
    msn = {0: 0.70, 1: 0.71, 2: 0.72}
    cells = {
        "balanced": {"msn": msn, "a": msn, "b": msn},
        "rho=100": {"msn": msn, "a": _shifted(msn, 0.01), "b": {0: 0.68, 1: 0.695, 2: 0.70}},
    }
    verdict = prior_matching_verdict(cells, "msn")
    assert verdict.outcome == "disagrees" and verdict.effect < 0 and verdict.ci_high < 0  # arm b hurts
