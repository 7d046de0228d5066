"""SwAV against an independent formulation (the paper's Sinkhorn as matrix scaling), marginals, bad arguments."""

import math

import pytest
import torch

import priormatch as pm
from priormatch.encoders import ViTConfig, build_encoder
from priormatch.errors import PriormatchError
from priormatch.methods import DataInfo, build_method
from priormatch.methods.swav import SwAVConfig
from priormatch.objectives.swav import swav_codes, swav_loss, swav_terms


def reference_swav(projections, prototypes, num_views, *, t=0.1, eps=0.05, iters=3, prior=None, code_views=2, queue=None):
    """Caron et al. sec. 3.1 and appendix A, float64: Q = Diag(u) exp(C^T Z / eps) Diag(v); with a
    queue (code_views, Q, D) its rows' scores join Z's columns and only the batch's codes are kept."""
    z = projections.double()
    c = prototypes.double()
    z = z / z.norm(dim=1, keepdim=True)
    c = c / c.norm(dim=1, keepdim=True)
    scores = z @ c.T  # (V*N, K)
    n, k = scores.shape[0] // num_views, c.shape[0]
    r = torch.full((k,), 1.0 / k, dtype=torch.float64) if prior is None else prior.double()
    views = [scores[v * n : (v + 1) * n] for v in range(num_views)]
    loss = 0.0
    for i in range(code_views):
        with torch.no_grad():
            columns = views[i].detach()
            if queue is not None:
                stored = queue[i].double() / queue[i].double().norm(dim=1, keepdim=True)
                columns = torch.cat([columns, stored @ c.detach().T])
            m = columns.shape[0]
            Q = torch.exp(columns.T / eps)  # (K, M)
            Q = Q / Q.sum()
            for _ in range(iters):
                Q = torch.diag(r / Q.sum(1)) @ Q  # prototype marginals
                Q = Q @ torch.diag(1.0 / (m * Q.sum(0)))  # sample marginals 1/M
            q = (Q / Q.sum(0)).T[:n]  # (N, K), rows sum to 1
        sub = 0.0
        for v in range(num_views):
            if v != i:
                log_p = views[v] / t - torch.logsumexp(views[v] / t, dim=1, keepdim=True)
                sub = sub - (q * log_p).sum(1).mean()
        loss = loss + sub / (num_views - 1)
    return loss / code_views


def inputs(n, views, d, k, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(views * n, d, generator=g, requires_grad=True), torch.randn(k, d, generator=g, requires_grad=True)


@pytest.mark.parametrize("n,views,d,k", [(8, 2, 4, 3), (16, 2, 16, 10), (6, 5, 8, 32), (32, 3, 8, 64)])
@pytest.mark.parametrize("prior_name", ["uniform", "power_law"])
def test_matches_independent_formulation_values_and_gradients(n, views, d, k, prior_name):
    prior = pm.uniform_prior(k) if prior_name == "uniform" else pm.power_law_prior(k, 1.0)
    z, c = inputs(n, views, d, k, seed=n + views + k)
    rz, rc = z.detach().clone().requires_grad_(True), c.detach().clone().requires_grad_(True)
    loss = swav_loss(z, c, num_views=views, row_marginals=prior)
    ref = reference_swav(rz, rc, views, prior=prior)
    assert loss.item() == pytest.approx(ref.item(), abs=1e-5)
    loss.backward()
    ref.backward()
    torch.testing.assert_close(z.grad, rz.grad.float(), atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(c.grad, rc.grad.float(), atol=1e-5, rtol=1e-4)


def test_options_match_independent_formulation():
    z, c = inputs(10, 4, 8, 7, seed=3)
    loss = swav_loss(z, c, num_views=4, num_code_views=1, temperature=0.2, epsilon=0.1, sinkhorn_iterations=5)
    ref = reference_swav(z, c, 4, t=0.2, eps=0.1, iters=5, code_views=1)
    assert loss.item() == pytest.approx(ref.item(), abs=1e-5)


def test_two_views_is_the_symmetric_swapped_prediction():
    z, c = inputs(6, 2, 4, 5, seed=0)
    terms = swav_terms(z, c, num_views=2)
    scores = torch.nn.functional.normalize(z, dim=1) @ torch.nn.functional.normalize(c, dim=1).T
    q1, q2 = terms.codes[:6], terms.codes[6:]

    def h(q, s):
        return -(q * torch.log_softmax(s / 0.1, dim=1)).sum(1).mean()

    assert terms.loss.item() == pytest.approx(((h(q1, scores[6:]) + h(q2, scores[:6])) / 2).item(), abs=1e-6)


@pytest.mark.parametrize("prior_name", ["uniform", "power_law"])
def test_codes_reach_the_sinkhorn_marginals(prior_name):
    k = 8
    prior = pm.uniform_prior(k) if prior_name == "uniform" else pm.power_law_prior(k, 1.0)
    scores = torch.nn.functional.normalize(torch.randn(64, 4), dim=1) @ torch.nn.functional.normalize(torch.randn(k, 4), dim=1).T
    q = swav_codes(scores, epsilon=0.3, iterations=300, row_marginals=prior)
    torch.testing.assert_close(q.sum(1), torch.ones(64))
    torch.testing.assert_close(q.mean(0), prior, atol=1e-4, rtol=1e-3)


def test_small_epsilon_does_not_overflow():
    scores = torch.tensor([[1.0, -1.0, 0.0], [0.9, 0.95, -0.2]])
    q = swav_codes(scores, epsilon=0.001, iterations=3)
    assert torch.isfinite(q).all()
    torch.testing.assert_close(q.sum(1), torch.ones(2))


def test_prototype_scale_does_not_matter_and_codes_carry_no_gradient():
    z, c = inputs(8, 2, 4, 6, seed=1)
    a = swav_loss(z, c, num_views=2)
    b = swav_loss(z, 5.0 * c, num_views=2)
    assert a.item() == pytest.approx(b.item(), abs=1e-6)
    assert not swav_terms(z, c, num_views=2).codes.requires_grad


def test_balanced_codes_when_every_prototype_is_equally_likely():
    # Each sample matches a different prototype with the same score pattern: Sinkhorn leaves the
    # (already balanced) assignment alone, and the uniform mean code is 1/K.
    k = 4
    scores = torch.eye(k).repeat(3, 1) * 0.5
    q = swav_codes(scores, epsilon=0.05, iterations=3)
    torch.testing.assert_close(q.mean(0), torch.full((k,), 1 / k))
    assert (q.argmax(1) == torch.arange(k).repeat(3)).all()


@pytest.mark.parametrize(
    "kwargs,name",
    [
        ({"temperature": 0.0}, "temperature"),
        ({"epsilon": -0.05}, "epsilon"),
        ({"sinkhorn_iterations": 0}, "sinkhorn_iterations"),
        ({"num_code_views": 3}, "num_code_views"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, name):
    z, c = inputs(4, 2, 4, 3, seed=0)
    with pytest.raises(PriormatchError, match=name) as error:
        swav_loss(z, c, num_views=2, **kwargs)
    assert "\n" not in str(error.value)


def test_prior_of_wrong_length_is_rejected():
    z, c = inputs(4, 2, 4, 3, seed=0)
    with pytest.raises(PriormatchError, match="row_marginals"):
        swav_loss(z, c, num_views=2, row_marginals=pm.uniform_prior(4))


def build_swav(**overrides):
    options = {"num_prototypes": 8, "projection_dim": 8, "projection_hidden": 16, "focal_views": 0, **overrides}
    config = SwAVConfig(**options)
    encoder = build_encoder(ViTConfig(patch_size=2, embed_dim=16, depth=1, heads=2), (1, 8, 8))
    return build_method(config, encoder, DataInfo(kind="image", input_shape=(1, 8, 8), class_counts=(40, 20, 10, 5)))


@pytest.mark.parametrize(
    "overrides,key",
    [
        ({"num_prototypes": 1}, "method.num_prototypes"),
        ({"temperature": -1.0}, "method.temperature"),
        ({"epsilon": 0.0}, "method.epsilon"),
        ({"tau": -0.5}, "method.tau"),
        ({"prior_values": [0.5, 0.5]}, "method.prior_values"),
        ({"prior": "zipf"}, "zipf"),
        ({"queue_length": -1}, "method.queue_length"),
    ],
)
def test_bad_config_is_a_one_line_error_naming_the_key(overrides, key):
    with pytest.raises(PriormatchError, match=key.replace(".", r"\.")) as error:
        build_swav(**overrides)
    assert "\n" not in str(error.value)


def test_method_uses_the_configured_prior_and_reports_usage():
    method = build_swav(prior="power_law", tau=1.0)
    torch.testing.assert_close(method.prior, pm.power_law_prior(8, 1.0))
    g = torch.Generator().manual_seed(0)
    views = [torch.randn(16, 1, 8, 8, generator=g) for _ in range(2)]
    output = method(views, [], generator=g)
    assert 1 <= output.metrics["prototypes_in_use"] <= 8
    assert 0 <= output.metrics["pbar_entropy"] <= math.log(8) + 1e-6
    assert output.metrics["kl_to_prior"] >= 0
    counts = build_swav(prior="class_counts")
    torch.testing.assert_close(counts.prior, pm.prior_from_class_counts([40, 20, 10, 5], 8))


@pytest.mark.parametrize("prior_name", ["uniform", "power_law"])
def test_queue_joins_the_sinkhorn_and_only_the_batch_codes_are_predicted(prior_name):
    n, views, d, k, length = 4, 3, 8, 16, 24  # a batch of 4 cannot be spread over 16 prototypes; 28 rows can
    prior = pm.uniform_prior(k) if prior_name == "uniform" else pm.power_law_prior(k, 1.0)
    z, c = inputs(n, views, d, k, seed=5)
    queue = torch.randn(2, length, d, generator=torch.Generator().manual_seed(9))
    rz, rc = z.detach().clone().requires_grad_(True), c.detach().clone().requires_grad_(True)
    terms = swav_terms(z, c, num_views=views, row_marginals=prior, queue=queue)
    ref = reference_swav(rz, rc, views, prior=prior, queue=queue)
    assert terms.loss.item() == pytest.approx(ref.item(), abs=1e-5)
    assert terms.codes.shape == (2 * n, k)
    terms.loss.backward()
    ref.backward()
    torch.testing.assert_close(z.grad, rz.grad.float(), atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(c.grad, rc.grad.float(), atol=1e-5, rtol=1e-4)
    without = swav_terms(z.detach(), c.detach(), num_views=views, row_marginals=prior)
    assert not torch.allclose(without.codes, terms.codes)


def test_method_queue_fills_newest_first_and_joins_once_full():
    method = build_swav(queue_length=40)
    g = torch.Generator().manual_seed(0)
    batches = [[torch.randn(16, 1, 8, 8, generator=g) for _ in range(2)] for _ in range(3)]
    assert int(method.queued) == 0 and method.queue.shape == (2, 40, method.config.projection_dim)
    method(batches[0], [], generator=g)
    method(batches[1], [], generator=g)
    assert int(method.queued) == 32  # not full: the next step still balances its batch alone
    with torch.no_grad():
        newest = torch.nn.functional.normalize(method.projector(method.encoder(torch.cat(batches[1]))), dim=-1)  # as forward: both views
    torch.testing.assert_close(method.queue[:, :16], torch.stack(newest.chunk(2)))
    method(batches[2], [], generator=g)
    assert int(method.queued) == 40 and torch.allclose(method.queue.norm(dim=-1), torch.ones(2, 40))
    method.eval()
    before = method.queue.clone()
    method(batches[0], [], generator=g)  # evaluation passes leave the queue alone
    torch.testing.assert_close(method.queue, before)


def test_the_queue_is_checkpointed_only_when_on():
    assert not {"queue", "queued"} & set(build_swav().state_dict())  # checkpoints without a queue are unchanged
    state = build_swav(queue_length=8).state_dict()
    assert state["queue"].shape[1] == 8 and "queued" in state
