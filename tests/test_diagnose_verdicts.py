"""Verdict logic on synthetic per-seed numbers."""

from priormatch.diagnose.verdicts import (
    batch_composition_verdict,
    overlay_verdict,
    prior_matching_verdict,
    prototype_verdict,
    uniform_usage_verdict,
)

REFERENCE = {"mae", "data2vec"}


def _seeds(mean, spread=0.005):
    return [mean - spread, mean, mean + spread]


def test_batch_composition_agrees_when_regularised_methods_drop_more():
    shuffled = {m: _seeds(0.80) for m in ("simclr", "msn", "mae", "data2vec")}
    imbalanced = {"simclr": _seeds(0.70), "msn": _seeds(0.68), "mae": _seeds(0.79), "data2vec": _seeds(0.795)}
    verdict = batch_composition_verdict(shuffled, imbalanced, REFERENCE, "k=2")
    assert verdict.outcome == "agrees"
    assert "simclr -10.0 pp" in verdict.text and "mae" in verdict.text


def test_batch_composition_disagrees_when_reference_drops_more():
    shuffled = {m: _seeds(0.80) for m in ("msn", "mae")}
    imbalanced = {"msn": _seeds(0.80), "mae": _seeds(0.70)}
    assert batch_composition_verdict(shuffled, imbalanced, REFERENCE, "k=2").outcome == "disagrees"


def test_batch_composition_inconclusive_without_both_groups():
    shuffled, imbalanced = {"msn": _seeds(0.8)}, {"msn": _seeds(0.6)}
    verdict = batch_composition_verdict(shuffled, imbalanced, REFERENCE, "k=2")
    assert verdict.outcome == "inconclusive" and "cannot be compared" in verdict.text


def test_prior_matching_agrees_only_when_prior_helps_long_tail_and_not_balanced():
    cells = {
        "balanced": {"msn": _seeds(0.80), "pmsn tau=1": _seeds(0.78)},
        "rho=100": {"msn": _seeds(0.70), "pmsn tau=1": _seeds(0.75)},
    }
    assert prior_matching_verdict(cells, "msn").outcome == "agrees"
    cells["balanced"]["pmsn tau=1"] = _seeds(0.85)
    assert prior_matching_verdict(cells, "msn").outcome == "disagrees"


def test_prior_matching_inconclusive_when_nothing_differs():
    noisy = [0.6, 0.7, 0.8]
    cells = {"balanced": {"msn": noisy, "pmsn tau=1": noisy[::-1]}, "rho=100": {"msn": noisy, "pmsn tau=1": noisy[::-1]}}
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
    assert uniform_usage_verdict("msn", [0.98, 0.99], 0.6, "rho=100").outcome == "agrees"
    assert uniform_usage_verdict("msn", [0.7], 0.6, "rho=100").outcome == "disagrees"
