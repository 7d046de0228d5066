"""The report's recommendation rule: an arm is recommended only when its paired accuracy interval
against the baseline lies above 0 (and its tail interval not below 0)."""

from types import SimpleNamespace

import numpy as np

from priormatch.diagnose.sections.recommendation import recommend, recommendation_section


class FakeRun:
    def __init__(self, arm, condition, seed, accuracy, tail, untrained):
        self.planned = SimpleNamespace(cell=SimpleNamespace(arm=arm, condition=condition), seed=seed)
        self.values = {"accuracy": accuracy, "tail_accuracy": tail}
        self.untrained = untrained

    def metric(self, metric="accuracy", *, probe="linear", label_set="", baseline=""):
        return self.untrained if baseline == "untrained" else self.values[metric]


def runs(gains, *, seeds=5, noise=0.002, untrained=0.3):
    """MSN at 0.70 per seed plus each arm at 0.70 + gain (+ seeded noise), one condition."""
    rng = np.random.default_rng(0)
    out = []
    for seed in range(seeds):
        out.append(FakeRun("msn", "rho=100", seed, 0.70, 0.5, untrained))
        for arm, gain in gains.items():
            jitter = noise * rng.standard_normal()
            out.append(FakeRun(arm, "rho=100", seed, 0.70 + gain + jitter, 0.5 + gain, untrained))
    return out


def test_a_clear_gain_is_recommended_and_the_largest_wins():
    sentence, rows = recommend(runs({"pmsn tau=1": 0.03, "pmsn tau=0.25": 0.01}), "msn", "rho=100")
    assert "use **pmsn tau=1**" in sentence and "+3.0 pp" in sentence
    assert [row[1] for row in rows] == ["pmsn tau=1", "pmsn tau=0.25"]


def test_no_detectable_difference_keeps_the_baseline():
    sentence, _ = recommend(runs({"pmsn tau=1": 0.0}, noise=0.02), "msn", "rho=100")
    assert "no difference detected at this budget; keep msn" in sentence


def test_a_gain_that_costs_the_tail_is_not_recommended():
    results = runs({"pmsn tau=1": 0.03})
    for run in results:
        if run.planned.cell.arm == "pmsn tau=1":
            run.values["tail_accuracy"] = 0.40 + 0.001 * run.planned.seed  # tail clearly below MSN's 0.5
    sentence, _ = recommend(results, "msn", "rho=100")
    assert "no difference detected" in sentence


def test_features_that_did_not_learn_get_no_recommendation():
    section, sentences = recommendation_section(runs({"pmsn tau=1": 0.03}, untrained=0.75), "msn")
    assert sentences[0].startswith("No recommendation:") and not section.tables
