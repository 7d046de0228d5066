"""NT-Xent against an independent per-anchor formulation, its closed form for perfect views, and DDP."""

import math

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from priormatch.errors import PriormatchError
from priormatch.objectives.nt_xent import nt_xent_loss
from priormatch.training.distributed_setup import leave_process_group


def reference_nt_xent(z1, z2, temperature):
    """Chen et al. eq. 1 written out: float64, one anchor at a time, explicit k != i sum."""
    z = torch.cat([z1, z2]).double()
    n2 = z.shape[0]
    total = 0.0
    for i in range(n2):
        j = (i + n2 // 2) % n2
        sims = [torch.dot(z[i], z[k]) / (z[i].norm() * z[k].norm()) / temperature for k in range(n2)]
        denominator = sum(torch.exp(sims[k]) for k in range(n2) if k != i)
        total = total - torch.log(torch.exp(sims[j]) / denominator)
    return total / n2


@pytest.mark.parametrize("n,d,temperature", [(1, 3, 0.5), (2, 4, 0.1), (7, 5, 0.5), (12, 16, 1.0)])
def test_matches_independent_formulation_values_and_gradients(n, d, temperature):
    g = torch.Generator().manual_seed(n * d)
    z1 = torch.randn(n, d, generator=g, requires_grad=True)
    z2 = torch.randn(n, d, generator=g, requires_grad=True)
    r1, r2 = (z.detach().clone().requires_grad_(True) for z in (z1, z2))
    loss = nt_xent_loss(z1, z2, temperature=temperature)
    ref = reference_nt_xent(r1, r2, temperature)
    assert loss.item() == pytest.approx(ref.item(), abs=1e-5)
    loss.backward()
    ref.backward()
    torch.testing.assert_close(z1.grad, r1.grad.float(), atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(z2.grad, r2.grad.float(), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("n,temperature", [(2, 0.5), (4, 0.1), (8, 1.0)])
def test_identical_orthogonal_views_give_the_closed_form(n, temperature):
    # Positive similarity 1, all 2n - 2 negatives orthogonal (similarity 0):
    # loss = -log(e^(1/t) / (e^(1/t) + 2n - 2)) = log(1 + (2n - 2) e^(-1/t)).
    z = torch.eye(n) * 3.0  # the scale must not matter (cosine similarity)
    expected = math.log(1 + (2 * n - 2) * math.exp(-1 / temperature))
    assert nt_xent_loss(z, z.clone(), temperature=temperature).item() == pytest.approx(expected, rel=1e-5, abs=1e-7)


def test_a_single_sample_has_no_negatives_and_zero_loss():
    # With one sample there are no negatives: the loss is 0 whatever the views.
    z1, z2 = torch.randn(1, 4), torch.randn(1, 4)
    assert nt_xent_loss(z1, z2).item() == pytest.approx(0.0, abs=1e-7)


def test_swapping_views_or_permuting_samples_leaves_the_loss_unchanged():
    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(6, 8, generator=g), torch.randn(6, 8, generator=g)
    perm = torch.randperm(6, generator=g)
    base = nt_xent_loss(z1, z2).item()
    assert nt_xent_loss(z2, z1).item() == pytest.approx(base, abs=1e-6)
    assert nt_xent_loss(z1[perm], z2[perm]).item() == pytest.approx(base, abs=1e-6)


def test_lower_temperature_sharpens_a_good_embedding():
    z = torch.eye(4)
    assert nt_xent_loss(z, z, temperature=0.1) < nt_xent_loss(z, z, temperature=1.0)


@pytest.mark.parametrize("temperature", [0.0, -1.0, float("nan")])
def test_bad_temperature_is_a_one_line_error_naming_it(temperature):
    with pytest.raises(PriormatchError, match="temperature") as error:
        nt_xent_loss(torch.randn(4, 3), torch.randn(4, 3), temperature=temperature)
    assert "\n" not in str(error.value)


def test_mismatched_views_are_rejected():
    with pytest.raises(PriormatchError, match="same shape"):
        nt_xent_loss(torch.randn(4, 3), torch.randn(5, 3))


def _ddp_worker(rank, world, init_file, z1, z2, temperature, out):
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    rows = slice(rank * (len(z1) // world), (rank + 1) * (len(z1) // world))
    a = z1[rows].clone().requires_grad_(True)
    b = z2[rows].clone().requires_grad_(True)
    loss = nt_xent_loss(a, b, temperature=temperature)
    loss.backward()
    losses = [torch.zeros(()) for _ in range(world)]
    dist.all_gather(losses, loss.detach())
    out[rank] = (torch.stack(losses).mean(), a.grad, b.grad)
    leave_process_group()


@pytest.mark.slow  # spawns two processes (~15 s)
def test_two_ranks_equal_one_process_with_the_global_batch(tmp_path):
    g = torch.Generator().manual_seed(1)
    z1, z2 = torch.randn(8, 5, generator=g), torch.randn(8, 5, generator=g)
    out = mp.Manager().dict()
    mp.spawn(_ddp_worker, args=(2, tmp_path / "init", z1, z2, 0.3, out), nprocs=2)
    a, b = z1.clone().requires_grad_(True), z2.clone().requires_grad_(True)
    loss = nt_xent_loss(a, b, temperature=0.3)
    loss.backward()
    assert out[0][0].item() == pytest.approx(loss.item(), abs=1e-6)
    for rank in range(2):
        rows = slice(rank * 4, (rank + 1) * 4)
        # Each rank's rows get W x the single-process gradient; DDP's 1/W average of the parameter
        # gradients then gives exactly the single-process gradient.
        torch.testing.assert_close(out[rank][1], 2 * a.grad[rows], atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(out[rank][2], 2 * b.grad[rows], atol=1e-6, rtol=1e-5)
