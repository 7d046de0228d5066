"""``method.prior=adaptive``: PMSN's prior re-fitted during training to the running usage of its
unbalanced target assignments (methods/adaptive_prior.py)."""

import math

import pytest
import torch

from priormatch.errors import PriormatchError
from priormatch.methods.adaptive_prior import AdaptivePrior
from priormatch.objectives.prior_matching import entropy
from priormatch.priors import power_law_prior, uniform_prior
from priormatch.training.checkpoint import load_checkpoint
from priormatch.training.config import raw_config, resolve_config
from priormatch.training.experiment import config_data_kind
from priormatch.training.loop import train
from priormatch.training.run_dir import RunDirectory


def estimator(k=32, **overrides):
    settings = {"momentum": 0.5, "warmup_steps": 0, "tau_max": 2.0, "entropy_floor": 0.0, **overrides}
    return AdaptivePrior(k, **settings)


def assignments_with_usage(usage: torch.Tensor, n: int = 64) -> torch.Tensor:
    """(n, K) rows whose mean is ``usage`` (each row is the usage, shuffled prototype order)."""
    order = torch.randperm(usage.numel(), generator=torch.Generator().manual_seed(0))
    return usage[order].expand(n, -1).clone()


def test_the_estimate_recovers_the_exponent_of_power_law_usage_in_any_prototype_order():
    prior = estimator()
    for _ in range(30):
        estimate = prior.observe(assignments_with_usage(power_law_prior(32, 0.8)))
    assert float(prior.tau) == pytest.approx(0.8, abs=1e-3)
    torch.testing.assert_close(estimate, power_law_prior(32, float(prior.tau)))


def test_warm_up_keeps_the_uniform_prior_while_usage_accumulates():
    prior = estimator(warmup_steps=3)
    skewed = assignments_with_usage(power_law_prior(32, 1.0))
    for _ in range(3):
        torch.testing.assert_close(prior.observe(skewed), uniform_prior(32))
    assert float(prior.tau) == 0.0 and int(prior.steps) == 3 and prior.usage[0] != 1 / 32
    prior.observe(skewed)
    assert float(prior.tau) > 0.5  # the fourth step estimates


def test_collapsed_usage_is_held_by_tau_max_and_the_entropy_floor():
    one_hot = torch.zeros(16, 32)
    one_hot[:, 0] = 1.0
    clipped = estimator(momentum=0.0, tau_max=1.5)
    clipped.observe(one_hot)
    assert float(clipped.tau) == pytest.approx(1.5)
    floored = estimator(momentum=0.0, tau_max=10.0, entropy_floor=0.8)
    prior = floored.observe(one_hot)
    assert float(entropy(prior)) >= 0.8 * math.log(32) - 1e-6
    assert float(entropy(power_law_prior(32, float(floored.tau) + 0.01))) < 0.8 * math.log(32)  # the largest tau allowed


def tiny_pmsn(tiny_config, *overrides):
    return resolve_config(
        raw_config([tiny_config("pmsn")], ["method.prior=adaptive", "method.ema_momentum=0.5", *overrides]), data_kind=config_data_kind
    )


def test_pmsn_with_the_adaptive_prior_trains_logs_tau_and_resumes_exactly(tmp_path, tiny_config):
    config = tiny_pmsn(tiny_config, "train.steps=6", "train.checkpoint_every=2", "method.adaptive_warmup_steps=2")
    full = train(config, RunDirectory(tmp_path / "full"))
    records = full.read_metrics()
    assert [r["prior_tau"] for r in records[:2]] == [0.0, 0.0] and all("prior_tau" in r for r in records)
    state = load_checkpoint(full.checkpoint)["method"]
    assert {"adaptive_prior.usage", "adaptive_prior.tau", "adaptive_prior.steps"} <= set(state)
    assert int(state["adaptive_prior.steps"]) == 6
    torch.testing.assert_close(state["prior"], power_law_prior(state["prior"].numel(), float(state["adaptive_prior.tau"])))
    partial = train(config, RunDirectory(tmp_path / "partial"), stop_at_step=3)
    resumed = train(config, partial, resume=True)
    resumed_state = load_checkpoint(resumed.checkpoint)["method"]
    for key in state:
        assert torch.equal(state[key], resumed_state[key]), key
    assert [r["prior_tau"] for r in resumed.read_metrics()] == [r["prior_tau"] for r in records]


def test_only_pmsn_with_prior_adaptive_gets_the_estimator(tiny_config):
    from priormatch.methods.msn import adaptive_prior

    assert adaptive_prior(tiny_pmsn(tiny_config).method) is not None
    assert adaptive_prior(tiny_pmsn(tiny_config, "method.prior=power_law").method) is None


@pytest.mark.parametrize("method", ["swav", "ts2vec"])
def test_methods_that_cannot_update_a_prior_reject_adaptive_in_one_line(method, tiny_config):
    from priormatch.methods.prior_head import validate_prior_head_config
    from priormatch.methods.swav import SwAVConfig, validate_swav_config
    from priormatch.methods.ts2vec import TS2VecConfig

    with pytest.raises(PriormatchError, match=r"method.prior=adaptive is re-estimated during training, which only PMSN does") as error:
        if method == "swav":
            validate_swav_config(SwAVConfig(prior="adaptive"))
        else:
            validate_prior_head_config(TS2VecConfig(prior="adaptive"))
    assert "\n" not in str(error.value)


def test_the_training_curves_figure_plots_the_estimated_tau():
    from priormatch.diagnose.figures.training_curves import curve_from_metrics, training_curves_figure

    fixed = [{"step": s, "pbar_entropy": 2.0, "kl_to_prior": 0.1} for s in (1, 2, 3)]
    adaptive = [{**r, "prior_tau": 0.1 * r["step"]} for r in fixed]
    assert curve_from_metrics("pmsn", fixed, 8).prior_tau is None
    curve = curve_from_metrics("pmsn adaptive", adaptive, 8)
    assert curve.prior_tau.tolist() == pytest.approx([0.1, 0.2, 0.3])
    two_panels = training_curves_figure([curve_from_metrics("pmsn", fixed, 8)])
    three_panels = training_curves_figure([curve_from_metrics("pmsn", fixed, 8), curve])
    assert three_panels[:8] == b"\x89PNG\r\n\x1a\n" and len(three_panels) > len(two_panels)
