"""VICReg against an independent elementwise formulation, hand values of each term, and DDP statistics."""

import math

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from priormatch.errors import PriormatchError
from priormatch.objectives.vicreg import VARIANCE_EPS, covariance_term, invariance_term, variance_term, vicreg_loss, vicreg_terms
from priormatch.training.distributed_setup import leave_process_group


def reference_vicreg(z1, z2, lam=25.0, mu=25.0, nu=1.0, gamma=1.0, eps=1e-4):
    """Bardes et al. eq. 1-6 with explicit sums over samples and dimension pairs, float64."""
    z1, z2 = z1.double(), z2.double()
    n, d = z1.shape

    def variance(z):
        total = 0.0
        for j in range(d):
            column = z[:, j]
            var = ((column - column.mean()) ** 2).sum() / (n - 1)
            total = total + torch.clamp(gamma - torch.sqrt(var + eps), min=0)
        return total / d

    def covariance(z):
        zc = z - z.mean(0)
        total = 0.0
        for i in range(d):
            for j in range(d):
                if i != j:
                    total = total + ((zc[:, i] * zc[:, j]).sum() / (n - 1)) ** 2
        return total / d

    invariance = sum(((z1[i] - z2[i]) ** 2).sum() for i in range(n)) / (n * d)
    return lam * invariance + mu * (variance(z1) + variance(z2)) + nu * (covariance(z1) + covariance(z2))


@pytest.mark.parametrize("n,d,scale", [(2, 3, 1.0), (8, 4, 0.3), (16, 6, 2.0)])
def test_matches_independent_formulation_values_and_gradients(n, d, scale):
    g = torch.Generator().manual_seed(n + d)
    z1 = (scale * torch.randn(n, d, generator=g)).requires_grad_(True)
    z2 = (scale * torch.randn(n, d, generator=g)).requires_grad_(True)
    r1, r2 = (z.detach().clone().requires_grad_(True) for z in (z1, z2))
    loss = vicreg_loss(z1, z2)
    ref = reference_vicreg(r1, r2)
    assert loss.item() == pytest.approx(ref.item(), rel=1e-5)
    loss.backward()
    ref.backward()
    torch.testing.assert_close(z1.grad, r1.grad.float(), atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(z2.grad, r2.grad.float(), atol=1e-5, rtol=1e-4)


def test_weights_are_arguments():
    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(10, 5, generator=g), torch.randn(10, 5, generator=g)
    loss = vicreg_loss(z1, z2, invariance_weight=2.0, variance_weight=3.0, covariance_weight=0.5)
    ref = reference_vicreg(z1, z2, lam=2.0, mu=3.0, nu=0.5)
    assert loss.item() == pytest.approx(ref.item(), rel=1e-5)


def test_constant_features_pay_the_full_variance_hinge_and_nothing_else():
    # Every dimension has std sqrt(eps): the hinge is 1 - sqrt(eps) per dimension, for each branch.
    z = torch.full((8, 5), 0.5)
    terms = vicreg_terms(z, z.clone())
    per_branch = 1 - math.sqrt(VARIANCE_EPS)
    assert variance_term(z).item() == pytest.approx(per_branch, rel=1e-6)
    assert terms.variance.item() == pytest.approx(2 * per_branch, rel=1e-6)
    assert terms.invariance.item() == 0.0 and terms.covariance.item() == 0.0
    assert terms.loss.item() == pytest.approx(25.0 * 2 * per_branch, rel=1e-6)


def test_decorrelated_spread_identical_views_cost_nothing():
    # Columns centred, uncorrelated, variance 4 * 1.5^2 / 3 = 3 (std > 1): every term is 0.
    z = torch.tensor([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]]) * 1.5
    terms = vicreg_terms(z, z.clone())
    assert terms.invariance.item() == 0.0 and terms.variance.item() == 0.0 and terms.covariance.item() == 0.0
    assert terms.loss.item() == 0.0


def test_covariance_hand_value():
    # Two perfectly correlated dimensions: C = [[1, 1], [1, 1]] -> (1^2 + 1^2) / d = 1.
    z = torch.tensor([[-1.0, -1.0], [1.0, 1.0]]) / math.sqrt(2)
    assert covariance_term(z).item() == pytest.approx(1.0, rel=1e-6)


def test_invariance_hand_value():
    assert invariance_term(torch.zeros(2, 2), torch.tensor([[1.0, 0.0], [0.0, 3.0]])).item() == pytest.approx(10 / 4)


@pytest.mark.parametrize(
    "kwargs,name",
    [
        ({"invariance_weight": -1.0}, "invariance_weight"),
        ({"variance_weight": -0.1}, "variance_weight"),
        ({"covariance_weight": float("nan")}, "covariance_weight"),
        ({"eps": 0.0}, "eps"),
    ],
)
def test_bad_arguments_are_one_line_errors_naming_them(kwargs, name):
    with pytest.raises(PriormatchError, match=name) as error:
        vicreg_loss(torch.randn(4, 3), torch.randn(4, 3), **kwargs)
    assert "\n" not in str(error.value)


def test_one_sample_is_rejected():
    with pytest.raises(PriormatchError, match="at least 2 samples"):
        vicreg_loss(torch.randn(1, 3), torch.randn(1, 3))


def _ddp_worker(rank, world, init_file, z1, z2, out):
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    rows = slice(rank * (len(z1) // world), (rank + 1) * (len(z1) // world))
    a = z1[rows].clone().requires_grad_(True)
    b = z2[rows].clone().requires_grad_(True)
    loss = vicreg_loss(a, b)
    loss.backward()
    out[rank] = (loss.detach(), a.grad, b.grad)
    leave_process_group()


@pytest.mark.slow  # spawns two processes (~15 s)
def test_two_ranks_use_global_batch_statistics(tmp_path):
    g = torch.Generator().manual_seed(2)
    z1, z2 = torch.randn(8, 4, generator=g), torch.randn(8, 4, generator=g)
    out = mp.Manager().dict()
    mp.spawn(_ddp_worker, args=(2, tmp_path / "init", z1, z2, out), nprocs=2)
    a, b = z1.clone().requires_grad_(True), z2.clone().requires_grad_(True)
    loss = vicreg_loss(a, b)
    loss.backward()
    for rank in range(2):
        rows = slice(rank * 4, (rank + 1) * 4)
        assert out[rank][0].item() == pytest.approx(loss.item(), rel=1e-6)  # every rank: the global loss
        # W x the single-process gradient on each rank's rows; DDP's 1/W average makes it exact.
        torch.testing.assert_close(out[rank][1], 2 * a.grad[rows], atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(out[rank][2], 2 * b.grad[rows], atol=1e-6, rtol=1e-5)
