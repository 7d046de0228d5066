"""TS2Vec's hierarchical contrast against a loop-based formulation of the paper, its degenerate
cases and closed forms; the ts2vec method's crops, latent masking, weight averaging and config."""

import math

import pytest
import torch

from priormatch.data import SeriesViews
from priormatch.encoders import Conv1dConfig, build_encoder
from priormatch.errors import PriormatchError
from priormatch.methods import DataInfo, ViewSpec, build_method
from priormatch.methods.ts2vec import random_overlapping_crops, take_windows
from priormatch.objectives.hierarchical_contrast import (
    hierarchical_contrast_terms,
    hierarchical_contrastive_loss,
    instance_contrast,
    temporal_contrast,
)
from priormatch.training.config import raw_config, resolve_config
from priormatch.training.views import step_views

# ---- an independent formulation: Yue et al. 2022, eq. 1-3 and Algorithm 1, one anchor at a time ----


def reference_dual(r1, r2):
    """(instance, temporal) means over both views as anchors, every sum written out (float64)."""
    batch, steps, _ = r1.shape
    instance = temporal = 0.0
    for anchor_view, other_view in ((r1, r2), (r2, r1)):
        for i in range(batch):
            for t in range(steps):
                a = anchor_view[i, t]
                positive = torch.dot(a, other_view[i, t])
                temporal_denominator = sum(torch.exp(torch.dot(a, other_view[i, s])) for s in range(steps)) + sum(
                    torch.exp(torch.dot(a, anchor_view[i, s])) for s in range(steps) if s != t
                )
                instance_denominator = sum(torch.exp(torch.dot(a, other_view[j, t])) for j in range(batch)) + sum(
                    torch.exp(torch.dot(a, anchor_view[j, t])) for j in range(batch) if j != i
                )
                temporal = temporal - (positive - torch.log(temporal_denominator))
                instance = instance - (positive - torch.log(instance_denominator))
    return instance / (2 * batch * steps), temporal / (2 * batch * steps)


def reference_pool(r):
    """Max over the pairs (2k, 2k + 1) of timestamps; an odd last timestamp is dropped."""
    pairs = r.shape[1] // 2
    return torch.stack([torch.maximum(r[:, 2 * k], r[:, 2 * k + 1]) for k in range(pairs)], dim=1)


def reference_hierarchical(r1, r2, instance_weight):
    scale_losses = []
    while True:
        instance, temporal = reference_dual(r1, r2)
        scale_losses.append(instance_weight * instance + (1 - instance_weight) * temporal)
        if r1.shape[1] == 1:
            break
        r1, r2 = reference_pool(r1), reference_pool(r2)
    return sum(scale_losses) / len(scale_losses)


@pytest.mark.parametrize(
    "batch,steps,dim,weight", [(1, 1, 3, 0.5), (1, 5, 3, 0.5), (3, 1, 4, 0.5), (4, 7, 5, 0.5), (3, 8, 4, 0.2), (2, 6, 3, 1.0)]
)
def test_matches_the_loop_based_formulation_values_and_gradients(batch, steps, dim, weight):
    g = torch.Generator().manual_seed(batch * 100 + steps * 10 + dim)
    r1 = (0.7 * torch.randn(batch, steps, dim, generator=g, dtype=torch.float64)).requires_grad_(True)
    r2 = (0.7 * torch.randn(batch, steps, dim, generator=g, dtype=torch.float64)).requires_grad_(True)
    q1, q2 = (r.detach().clone().requires_grad_(True) for r in (r1, r2))
    loss = hierarchical_contrastive_loss(r1, r2, instance_weight=weight)
    reference = reference_hierarchical(q1, q2, weight)
    assert loss.item() == pytest.approx(reference.item(), rel=1e-10, abs=1e-12)
    loss.backward()
    reference.backward()
    torch.testing.assert_close(r1.grad, q1.grad, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(r2.grad, q2.grad, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("steps,scales", [(1, 1), (2, 2), (3, 2), (4, 3), (7, 3), (8, 4), (96, 7)])
def test_number_of_scales_is_floor_log2_plus_one(steps, scales):
    r = torch.randn(2, steps, 3)
    assert hierarchical_contrast_terms(r, r.clone()).num_scales == scales == math.floor(math.log2(steps)) + 1


def test_one_series_has_no_instance_negatives_so_the_instance_term_is_zero():
    r1, r2 = torch.randn(1, 6, 4), torch.randn(1, 6, 4)
    terms = hierarchical_contrast_terms(r1, r2, instance_weight=0.3)
    assert terms.instance.item() == 0.0
    assert terms.loss.item() == pytest.approx(0.7 * terms.temporal.item(), rel=1e-6)


def test_one_timestamp_has_no_temporal_negatives_so_only_the_instance_term_acts():
    r1, r2 = torch.randn(5, 1, 4), torch.randn(5, 1, 4)
    terms = hierarchical_contrast_terms(r1, r2)
    assert terms.num_scales == 1 and terms.temporal.item() == 0.0
    assert terms.loss.item() == pytest.approx(0.5 * instance_contrast(r1, r2).item(), rel=1e-6)


def test_one_series_of_one_timestamp_gives_zero_loss_and_zero_gradient():
    r1, r2 = torch.randn(1, 1, 4, requires_grad=True), torch.randn(1, 1, 4, requires_grad=True)
    loss = hierarchical_contrastive_loss(r1, r2)
    loss.backward()
    assert loss.item() == 0.0 and r1.grad.abs().max().item() == 0.0 and r2.grad.abs().max().item() == 0.0


@pytest.mark.parametrize("batch,scale", [(2, 1.0), (4, 2.0), (8, 0.5)])
def test_identical_orthogonal_series_give_the_closed_form_instance_loss(batch, scale):
    # T = 1, r1 = r2 = scale * e_i: positive logit scale^2, the 2B - 2 negatives 0:
    # instance = log(1 + (2B - 2) exp(-scale^2)), the loss half of it.
    r = scale * torch.eye(batch, dtype=torch.float64)[:, None, :]  # (B, 1, B)
    expected = 0.5 * math.log(1 + (2 * batch - 2) * math.exp(-(scale**2)))
    assert hierarchical_contrastive_loss(r, r.clone()).item() == pytest.approx(expected, rel=1e-12)


def test_identical_orthogonal_timestamps_give_the_closed_form_temporal_loss():
    # B = 1, T = 2, r1 = r2 = c * (e_0, e_1): scale 0 temporal log(1 + 2 exp(-c^2)); scale 1 (T = 1)
    # and every instance term are 0; the mean over the 2 scales, times 1 - w.
    c = 1.5
    r = c * torch.eye(2, dtype=torch.float64)[None]  # (1, 2, 2)
    expected = 0.5 * 0.5 * math.log(1 + 2 * math.exp(-(c**2)))
    assert hierarchical_contrastive_loss(r, r.clone()).item() == pytest.approx(expected, rel=1e-12)


def test_swapping_views_or_permuting_series_leaves_the_loss_unchanged():
    g = torch.Generator().manual_seed(0)
    r1, r2 = torch.randn(5, 9, 4, generator=g), torch.randn(5, 9, 4, generator=g)
    perm = torch.randperm(5, generator=g)
    base = hierarchical_contrastive_loss(r1, r2).item()
    assert hierarchical_contrastive_loss(r2, r1).item() == pytest.approx(base, rel=1e-6)
    assert hierarchical_contrastive_loss(r1[perm], r2[perm]).item() == pytest.approx(base, rel=1e-6)
    assert temporal_contrast(r1[perm], r2[perm]).item() == pytest.approx(temporal_contrast(r1, r2).item(), rel=1e-6)


def test_aligned_views_score_better_than_unrelated_ones():
    g = torch.Generator().manual_seed(1)
    r = 2.0 * torch.randn(6, 16, 8, generator=g)
    assert hierarchical_contrastive_loss(r, r.clone()) < hierarchical_contrastive_loss(r, torch.randn(6, 16, 8, generator=g))


@pytest.mark.parametrize(
    "r1,r2,weight,match",
    [
        (torch.randn(2, 3, 4), torch.randn(2, 4, 4), 0.5, "same shape"),
        (torch.randn(2, 3), torch.randn(2, 3), 0.5, r"\(B, T, D\)"),
        (torch.randn(0, 3, 4), torch.randn(0, 3, 4), 0.5, "at least 1 series"),
        (torch.randn(2, 3, 4), torch.randn(2, 3, 4), 1.5, "instance_weight"),
    ],
)
def test_bad_inputs_are_one_line_errors(r1, r2, weight, match):
    with pytest.raises(PriormatchError, match=match) as error:
        hierarchical_contrastive_loss(r1, r2, instance_weight=weight)
    assert "\n" not in str(error.value)


# ---- the ts2vec method ----


def series_method(*overrides: str, length: int = 24, channels: int = 1, seed: int = 0):
    raw = raw_config([], ["method.name=ts2vec", "encoder.hidden=8", "encoder.depth=2", "encoder.embed_dim=12", *overrides])
    config = resolve_config(raw, data_kind=lambda _: "series")
    torch.manual_seed(seed)
    encoder = build_encoder(config.encoder, (channels, length))
    return build_method(config.method, encoder, DataInfo(kind="series", input_shape=(channels, length), class_counts=(10, 5, 1)))


def test_crops_overlap_and_stay_inside_each_observed_length():
    lengths = torch.tensor([9, 30, 17, 9, 25])
    for seed in range(200):
        crops = random_overlapping_crops(lengths, torch.Generator().manual_seed(seed), max_length=12)
        a1, a2 = crops.start1, crops.start2
        b1, b2 = a1 + crops.length1, a2 + crops.length2
        assert (a1 >= 0).all() and (a1 <= a2).all() and (b1 <= b2).all() and (b2 <= lengths).all()
        assert torch.equal(b1 - a2, torch.full_like(a1, crops.overlap)) and 2 <= crops.overlap <= 9
        assert crops.length1 <= 9 and crops.length2 <= 9  # in a frame of min(lengths, max_length) steps


def test_the_shared_timestamps_of_the_two_crops_are_the_same_raw_values():
    x = torch.arange(3 * 2 * 20, dtype=torch.float32).view(3, 2, 20)
    crops = random_overlapping_crops(torch.full((3,), 20), torch.Generator().manual_seed(4), max_length=3000)
    view1, view2 = take_windows(x, crops.start1, crops.length1), take_windows(x, crops.start2, crops.length2)
    assert torch.equal(view1[:, :, crops.length1 - crops.overlap :], view2[:, :, : crops.overlap])
    assert torch.equal(view1[1, :, 0], x[1, :, int(crops.start1[1])])


def test_encoder_timestamps_max_pool_to_the_instance_embedding_and_mask_the_latent_steps():
    encoder = build_encoder(Conv1dConfig(hidden=8, depth=2, embed_dim=12), (2, 16))
    x = torch.randn(3, 2, 16)
    steps = encoder.timestamps(x)
    assert steps.shape == (3, 16, 12)
    torch.testing.assert_close(steps.amax(dim=1), encoder(x))
    hidden = torch.zeros(3, 16, dtype=torch.bool)  # every latent step zeroed: no input information left
    torch.testing.assert_close(encoder.timestamps(x, keep=hidden), encoder.timestamps(torch.randn(3, 2, 16), keep=hidden))
    with pytest.raises(PriormatchError, match="keep must be"):
        encoder.timestamps(x, keep=torch.ones(3, 15, dtype=torch.bool))


def test_plain_ts2vec_trains_every_encoder_weight_and_has_no_head():
    method = series_method()
    assert method.projector is None and method.prototypes is None and method.view_spec == ViewSpec(1, augmented=False)
    output = method([torch.randn(8, 1, 24)], [], generator=torch.Generator().manual_seed(0))
    output.loss.backward()
    assert {"loss", "contrast", "instance_contrast", "temporal_contrast"} <= set(output.metrics)
    for name, parameter in method.named_parameters():
        if name.startswith("averaged_encoder."):
            assert not parameter.requires_grad and parameter.grad is None, name
        else:
            assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


def test_one_series_and_one_timestep_batches_are_finite():
    method = series_method(length=1)
    assert method([torch.randn(1, 1, 1)], [], generator=torch.Generator().manual_seed(0)).loss.item() == 0.0
    method = series_method()
    assert torch.isfinite(method([torch.randn(1, 1, 24)], [], generator=torch.Generator().manual_seed(0)).loss)


def test_the_step_generator_alone_decides_crops_masks_and_dropout():
    method = series_method()
    x = torch.randn(6, 1, 24)
    losses = [method([x], [], generator=torch.Generator().manual_seed(s)).loss.item() for s in (3, 3, 4)]
    assert losses[0] == losses[1] != losses[2]


def test_the_evaluated_encoder_is_the_equal_weight_mean_of_the_weights_after_each_step():
    method = series_method()
    snapshots = []
    for step in range(3):
        with torch.no_grad():
            for parameter in method.encoder.parameters():
                parameter.add_(float(step + 1))
        snapshots.append([p.detach().clone() for p in method.encoder.parameters()])
        method.update_teacher(None)
    assert int(method.num_averaged) == 3 and method.evaluation_encoder() is method.averaged_encoder
    for averaged, *values in zip(method.averaged_encoder.parameters(), *snapshots):
        torch.testing.assert_close(averaged, torch.stack(values).mean(dim=0))


def test_prior_head_from_overrides_learns_prototypes_with_kl_to_the_prior():
    method = series_method("method.prior=power_law", "method.tau=1.0", "method.num_prototypes=6")
    assert method.prior.shape == (6,) and method.prior[0] > method.prior[-1]
    output = method([torch.randn(8, 1, 24)], [], generator=torch.Generator().manual_seed(0))
    output.loss.backward()
    assert method.prototypes.grad.abs().sum() > 0
    assert {"cross_entropy", "regularizer", "kl_to_prior", "prototypes_in_use"} <= set(output.metrics)
    assert output.loss.item() == pytest.approx(
        output.metrics["contrast"] + output.metrics["cross_entropy"] + output.metrics["regularizer"], rel=1e-5
    )


def test_images_or_an_encoder_without_timestamps_are_one_line_errors():
    config = resolve_config(raw_config([], ["method.name=ts2vec", "encoder.name=vit", "encoder.patch_size=2"]), data_kind=lambda _: "image")
    encoder = build_encoder(config.encoder, (1, 8, 8))
    with pytest.raises(PriormatchError, match="encoder.name=conv1d") as error:
        build_method(config.method, encoder, DataInfo(kind="image", input_shape=(1, 8, 8)))
    assert "\n" not in str(error.value)
    with pytest.raises(PriormatchError, match="mask_probability"):
        series_method("method.mask_probability=1.0")


def test_unaugmented_view_spec_hands_over_the_raw_batch():
    x = torch.randn(4, 1, 10)
    views = SeriesViews()
    (raw,), focal = step_views(views, x, ViewSpec(1, augmented=False), torch.Generator().manual_seed(0))
    assert raw is x and focal == []
    (augmented,), _ = step_views(views, x, ViewSpec(1), torch.Generator().manual_seed(0))
    assert not torch.equal(augmented, x)
