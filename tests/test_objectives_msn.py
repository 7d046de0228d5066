"""MSN / PMSN objectives against an independent float64 formulation, hand values and degenerate cases."""

import math

import numpy as np
import pytest
import torch

import priormatch as pm
from priormatch.errors import PriormatchError
from priormatch.objectives import entropy, kl_divergence, prior_divergence, sharpen, sinkhorn_knopp, soft_cross_entropy


def reference_pmsn(anchors, targets, prototypes, prior, *, tau=0.1, T=0.25, iters=3, weight=1.0, marginals="uniform", reverse=False):
    """Independent formulation: float64, explicit per-view loop, Sinkhorn as diagonal matrix scaling."""
    a = anchors.double()
    t = targets.double().detach()
    q = prototypes.double()
    prior = prior.double()

    def unit(x):
        return x / x.norm(dim=1, keepdim=True)

    n, k = t.shape[0], q.shape[0]
    with torch.no_grad():
        sims = unit(t) @ unit(q.detach()).T
        target = torch.exp(sims / (tau * T))  # sharpening == softmax at tau*T
        target = target / target.sum(1, keepdim=True)
        if iters and marginals != "off":
            r = prior if marginals == "prior" else torch.full((k,), 1.0 / k, dtype=torch.float64)
            P = target / target.sum()
            for _ in range(iters):
                P = torch.diag(r / P.sum(0)) @ P.T  # rescale prototypes (K, N)
                P = (P @ torch.diag(1.0 / (n * P.sum(0)))).T  # rescale samples
            target = P / P.sum(1, keepdim=True)
    views = a.shape[0] // n
    ce, probs = 0.0, []
    for v in range(views):
        logits = unit(a[v * n : (v + 1) * n]) @ unit(q).T / tau
        p = torch.exp(logits) / torch.exp(logits).sum(1, keepdim=True)
        ce = ce + (-(target * torch.log(p)).sum(1)).sum()
        probs.append(p)
    ce = ce / (views * n)
    p_bar = torch.cat(probs).mean(0)
    if reverse:
        reg = (prior * torch.log(prior / p_bar)).sum()
    else:
        reg = (p_bar * torch.log(p_bar / prior)).sum()
    return ce + weight * reg


def make_inputs(n, views, d, k, seed):
    g = torch.Generator().manual_seed(seed)
    anchors = torch.randn(views * n, d, generator=g, requires_grad=True)
    targets = torch.randn(n, d, generator=g)
    prototypes = torch.randn(k, d, generator=g, requires_grad=True)
    return anchors, targets, prototypes


PRIORS = {
    "uniform": lambda k: pm.uniform_prior(k),
    "power_0.25": lambda k: pm.power_law_prior(k, 0.25),
    "power_1": lambda k: pm.power_law_prior(k, 1.0),
    "random": lambda k: pm.prior_from_values(np.random.default_rng(k).random(k) + 0.05, k),
}


@pytest.mark.parametrize("n,views,d,k", [(8, 1, 4, 3), (16, 2, 16, 10), (6, 11, 8, 32), (32, 3, 32, 64)])
@pytest.mark.parametrize("prior_name", list(PRIORS))
@pytest.mark.parametrize("marginals", ["uniform", "prior", "off"])
def test_pmsn_matches_independent_formulation(n, views, d, k, prior_name, marginals):
    prior = PRIORS[prior_name](k)
    anchors, targets, prototypes = make_inputs(n, views, d, k, seed=n + views + k)
    loss = pm.pmsn_loss(anchors, targets, prototypes, prior, sinkhorn_marginals=marginals)
    ref_anchors = anchors.detach().clone().requires_grad_(True)
    ref_prototypes = prototypes.detach().clone().requires_grad_(True)
    ref = reference_pmsn(ref_anchors, targets, ref_prototypes, prior, marginals=marginals)
    assert loss.item() == pytest.approx(ref.item(), abs=1e-5)
    loss.backward()
    ref.backward()
    torch.testing.assert_close(anchors.grad, ref_anchors.grad.float(), atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(prototypes.grad, ref_prototypes.grad.float(), atol=1e-5, rtol=1e-4)


def test_msn_loss_matches_independent_formulation_with_options():
    anchors, targets, prototypes = make_inputs(10, 2, 8, 7, seed=3)
    loss = pm.msn_loss(
        anchors, targets, prototypes, temperature=0.2, sharpen_temperature=0.5, sinkhorn_iterations=5, regularization_weight=2.5
    )
    ref = reference_pmsn(anchors, targets, prototypes, pm.uniform_prior(7), tau=0.2, T=0.5, iters=5, weight=2.5)
    assert loss.item() == pytest.approx(ref.item(), abs=1e-5)


@pytest.mark.parametrize("seed", range(3))
def test_pmsn_with_uniform_prior_equals_msn(seed):
    anchors, targets, prototypes = make_inputs(12, 3, 16, 20, seed)
    msn = pm.msn_loss(anchors, targets, prototypes)
    pmsn = pm.pmsn_loss(anchors, targets, prototypes, pm.uniform_prior(20))
    pmsn_tau0 = pm.pmsn_loss(anchors, targets, prototypes, pm.power_law_prior(20, 0.0))
    assert msn.item() == pytest.approx(pmsn.item(), abs=1e-7)
    assert msn.item() == pytest.approx(pmsn_tau0.item(), abs=1e-6)


def test_me_max_term_is_log_k_minus_entropy():
    p_bar = torch.softmax(torch.randn(13), 0)
    uniform = pm.uniform_prior(13)
    assert kl_divergence(p_bar, uniform).item() == pytest.approx(math.log(13) - entropy(p_bar).item(), abs=1e-6)


def test_reverse_kl_is_an_option_and_differs():
    anchors, targets, prototypes = make_inputs(8, 2, 8, 6, seed=1)
    prior = pm.power_law_prior(6, 1.0)
    forward = pm.pmsn_loss(anchors, targets, prototypes, prior)
    reverse = pm.pmsn_loss(anchors, targets, prototypes, prior, kl_direction="reverse")
    ref = reference_pmsn(anchors, targets, prototypes, prior, reverse=True)
    assert reverse.item() == pytest.approx(ref.item(), abs=1e-5)
    assert abs(forward.item() - reverse.item()) > 1e-4


def test_hand_computed_kl_and_cross_entropy():
    # KL([0.5, 0.5] || [0.75, 0.25]) = 0.5 ln(0.5/0.75) + 0.5 ln(0.5/0.25)
    expected = 0.5 * math.log(2 / 3) + 0.5 * math.log(2)
    assert prior_divergence(torch.tensor([0.5, 0.5]), torch.tensor([0.75, 0.25])).item() == pytest.approx(expected, abs=1e-7)
    # reverse: 0.75 ln(0.75/0.5) + 0.25 ln(0.25/0.5)
    rev = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)
    assert prior_divergence(torch.tensor([0.5, 0.5]), torch.tensor([0.75, 0.25]), "reverse").item() == pytest.approx(rev, abs=1e-7)
    # H([1, 0], softmax([0, ln 3])) = -ln(1/4)
    assert soft_cross_entropy(torch.tensor([[0.0, math.log(3.0)]]), torch.tensor([[1.0, 0.0]])).item() == pytest.approx(
        math.log(4), abs=1e-6
    )


def test_cross_entropy_is_stable_for_extreme_logits():
    logits = torch.tensor([[1e4, -1e4, 0.0]], requires_grad=True)
    loss = soft_cross_entropy(logits, torch.tensor([[0.0, 1.0, 0.0]]))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(logits.grad).all()


def test_sharpen_matches_softmax_at_lower_temperature():
    logits = torch.randn(5, 7)
    torch.testing.assert_close(sharpen(torch.softmax(logits / 0.1, -1), 0.25), torch.softmax(logits / 0.025, -1))


def test_sinkhorn_reaches_prior_marginals():
    probs = torch.softmax(torch.randn(64, 8), -1)
    prior = pm.power_law_prior(8, 1.0)
    q = sinkhorn_knopp(probs, iterations=200, row_marginals=prior)
    torch.testing.assert_close(q.sum(1), torch.ones(64))
    torch.testing.assert_close(q.mean(0), prior, atol=1e-4, rtol=1e-3)
    uniform = sinkhorn_knopp(probs, iterations=200)
    torch.testing.assert_close(uniform.mean(0), torch.full((8,), 1 / 8), atol=1e-4, rtol=1e-3)


def test_sinkhorn_on_balanced_input_is_identity():
    probs = torch.eye(4).repeat(3, 1) * 0.9 + 0.025  # each prototype already used equally
    torch.testing.assert_close(sinkhorn_knopp(probs, 3), probs)


def test_no_gradient_flows_through_targets():
    anchors, targets, prototypes = make_inputs(6, 2, 8, 5, seed=0)
    targets.requires_grad_(True)
    pm.pmsn_loss(anchors, targets, prototypes, pm.power_law_prior(5, 0.5)).backward()
    assert targets.grad is None
    assert anchors.grad is not None and prototypes.grad is not None and prototypes.grad.abs().sum() > 0


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"temperature": 0.0}, "temperature"),
        ({"sharpen_temperature": -1.0}, "sharpen_temperature"),
        ({"sinkhorn_iterations": -1}, "sinkhorn_iterations"),
        ({"regularization_weight": -0.5}, "regularization_weight"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, match):
    anchors, targets, prototypes = make_inputs(4, 1, 4, 3, seed=0)
    with pytest.raises(PriormatchError, match=match):
        pm.msn_loss(anchors, targets, prototypes, **kwargs)


def test_prior_of_wrong_length_is_rejected():
    anchors, targets, prototypes = make_inputs(4, 1, 4, 3, seed=0)
    with pytest.raises(PriormatchError, match=r"prior must be \(K,\) = \(3,\)"):
        pm.pmsn_loss(anchors, targets, prototypes, pm.uniform_prior(4))


@pytest.mark.parametrize("tau", [0.25, 1.0])
def test_prior_marginals_keep_the_targets_usage_on_the_prior(tau):
    """Targets whose natural usage already follows the prior: uniform balancing pulls it away
    (PMSN's cross-entropy would then fight its KL term); prior-marginal balancing keeps it."""
    from priormatch.objectives.msn import msn_targets

    k, n, d = 64, 4096, 32
    generator = torch.Generator().manual_seed(0)
    prior = pm.power_law_prior(k, tau)
    prototypes = torch.nn.functional.normalize(torch.randn(k, d, generator=generator), dim=1)
    owners = torch.multinomial(prior, n, replacement=True, generator=generator)
    targets = prototypes[owners] + 0.3 * torch.randn(n, d, generator=generator)
    options = dict(temperature=0.1, sharpen_temperature=0.25, sinkhorn_iterations=3)

    def divergence(row_marginals, iterations=3):
        usage = msn_targets(targets, prototypes, **{**options, "sinkhorn_iterations": iterations}, row_marginals=row_marginals).mean(0)
        return kl_divergence(usage, prior).item()

    unbalanced, uniform, matched = divergence(None, 0), divergence(None), divergence(prior)
    # measured (K = 64): tau = 1: 0.050 unbalanced, 0.296 uniform, 0.015 prior; tau = 0.25: 0.006, 0.010, 0.002
    assert matched < 0.5 * unbalanced < uniform and matched < 0.02
    if tau == 1.0:
        assert uniform > 5 * unbalanced
