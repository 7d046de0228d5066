"""MAE's loss against an explicit per-patch formulation, its degenerate cases, NaN series, and the method."""

import math

import pytest
import torch
from einops import rearrange

from priormatch.encoders import SeriesTransformerConfig, ViTConfig, build_encoder, random_keep_indices
from priormatch.errors import PriormatchError
from priormatch.methods import DataInfo, build_method
from priormatch.methods.mae import MAEConfig
from priormatch.objectives.masked_reconstruction import masked_reconstruction_loss, normalize_patches


def reference_loss(predictions, targets, masked, normalize=True, eps=1e-6):
    """He et al. sec. 3 patch by patch, float64, NaN values dropped from each patch."""
    total, count = 0.0, 0
    b, t, _ = predictions.shape
    for i in range(b):
        for j in range(t):
            if not masked[i, j]:
                continue
            observed = ~torch.isnan(targets[i, j])
            if not observed.any():
                continue
            y = targets[i, j][observed].double()
            if normalize:
                var = y.var() if len(y) > 1 else torch.zeros((), dtype=torch.float64)
                y = (y - y.mean()) / torch.sqrt(var + eps)
            total = total + ((predictions[i, j][observed].double() - y) ** 2).mean()
            count += 1
    return total / max(count, 1)


def random_case(b=3, t=6, p=5, seed=0, nan_share=0.0):
    g = torch.Generator().manual_seed(seed)
    predictions = torch.randn(b, t, p, generator=g, requires_grad=True)
    targets = 2.0 + 3.0 * torch.randn(b, t, p, generator=g)
    if nan_share:
        targets[torch.rand(b, t, p, generator=g) < nan_share] = math.nan
    masked = torch.rand(b, t, generator=g) < 0.6
    return predictions, targets, masked


@pytest.mark.parametrize("normalize", [True, False])
@pytest.mark.parametrize("nan_share", [0.0, 0.4])
def test_matches_per_patch_formulation_values_and_gradients(normalize, nan_share):
    predictions, targets, masked = random_case(seed=int(nan_share * 10) + normalize, nan_share=nan_share)
    reference_predictions = predictions.detach().clone().requires_grad_(True)
    loss = masked_reconstruction_loss(predictions, targets, masked, normalize_target=normalize)
    ref = reference_loss(reference_predictions, targets, masked, normalize)
    assert loss.item() == pytest.approx(ref.item(), rel=1e-5)
    loss.backward()
    ref.backward()
    torch.testing.assert_close(predictions.grad, reference_predictions.grad.float(), atol=1e-6, rtol=1e-4)
    assert torch.isfinite(predictions.grad).all()


def test_perfect_reconstruction_costs_nothing():
    _, targets, masked = random_case(seed=4)
    assert masked_reconstruction_loss(normalize_patches(targets), targets, masked).item() == pytest.approx(0.0, abs=1e-10)
    assert masked_reconstruction_loss(targets.clone(), targets, masked, normalize_target=False).item() == 0.0


def test_only_masked_patches_count():
    predictions, targets, masked = random_case(seed=5)
    loss = masked_reconstruction_loss(predictions, targets, masked)
    changed = predictions.detach().clone()
    changed[~masked] += 100.0
    assert masked_reconstruction_loss(changed, targets, masked).item() == pytest.approx(loss.item(), rel=1e-6)
    loss.backward()
    assert (predictions.grad[~masked] == 0).all() and (predictions.grad[masked] != 0).any()


def test_hand_value_and_fully_missing_patches():
    predictions = torch.zeros(1, 3, 2)
    targets = torch.tensor([[[1.0, 3.0], [math.nan, math.nan], [2.0, math.nan]]])
    masked = torch.tensor([[True, True, True]])
    # patch 0: (1 + 9) / 2 = 5; patch 1: no observed value, not counted; patch 2: 4 / 1 = 4
    assert masked_reconstruction_loss(predictions, targets, masked, normalize_target=False).item() == pytest.approx(4.5)
    nothing = torch.zeros(1, 3, dtype=torch.bool)
    assert masked_reconstruction_loss(predictions, targets, nothing).item() == 0.0


def test_normalized_patches_have_zero_mean_and_unit_unbiased_std():
    patches = 5.0 + 2.0 * torch.randn(4, 7, 16, dtype=torch.float64)
    normal = normalize_patches(patches, eps=1e-12)
    torch.testing.assert_close(normal.mean(-1), torch.zeros(4, 7, dtype=torch.float64), atol=1e-9, rtol=0)
    torch.testing.assert_close(normal.std(-1), torch.ones(4, 7, dtype=torch.float64), atol=1e-9, rtol=0)
    single = normalize_patches(torch.tensor([[[math.nan, 3.0, math.nan]]]))
    assert single[0, 0, 1].item() == 0.0 and torch.isnan(single[0, 0, 0])


def test_shape_errors():
    predictions, targets, masked = random_case()
    with pytest.raises(PriormatchError, match="masked"):
        masked_reconstruction_loss(predictions, targets, masked.float())
    with pytest.raises(PriormatchError, match="predictions and targets"):
        masked_reconstruction_loss(predictions[:, :2], targets, masked)


def tiny_mae(kind="image", **overrides):
    if kind == "image":
        shape, encoder_config = (1, 8, 8), ViTConfig(patch_size=2, embed_dim=16, depth=1, heads=2)
    else:
        shape, encoder_config = (2, 30), SeriesTransformerConfig(patch_length=4, embed_dim=16, depth=1, heads=2)
    torch.manual_seed(0)
    encoder = build_encoder(encoder_config, shape)
    config = MAEConfig(**{"decoder_dim": 8, "decoder_depth": 1, "decoder_heads": 2, **overrides})
    return build_method(config, encoder, DataInfo(kind=kind, input_shape=shape)), shape


def test_encoder_sees_only_visible_patches():
    method, shape = tiny_mae()
    predictions = []
    method.decoder.register_forward_hook(lambda module, args, output: predictions.append(output.detach()))
    x = torch.randn(4, *shape)
    method([x], [], generator=torch.Generator().manual_seed(7))
    visible = torch.zeros(4, 16, dtype=torch.bool)  # the same seed draws the same visible set
    visible.scatter_(1, random_keep_indices(4, 16, 0.75, torch.Generator().manual_seed(7)), True)
    assert visible.sum(1).tolist() == [4] * 4  # 75% of the 16 patches removed
    patches = method.encoder.patchify(x)
    patches[~visible] = 50.0  # change every masked patch's pixels
    changed = rearrange(patches, "b (h w) (c p q) -> b c (h p) (w q)", h=4, p=2, q=2)
    method([changed], [], generator=torch.Generator().manual_seed(7))
    torch.testing.assert_close(predictions[0], predictions[1])


def test_series_with_missing_values_train_with_finite_gradients():
    method, shape = tiny_mae("series")
    x = torch.randn(6, *shape)
    x[0, :, 20:] = math.nan  # a shorter series (end padding)
    x[1, 0, ::3] = math.nan  # scattered gaps in one channel
    output = method([x], [], generator=torch.Generator().manual_seed(0))
    assert torch.isfinite(output.loss)
    output.loss.backward()
    for name, parameter in method.named_parameters():
        assert parameter.grad is not None and torch.isfinite(parameter.grad).all(), name


@pytest.mark.parametrize(
    "overrides,key",
    [
        ({"mask_ratio": 1.0}, "method.mask_ratio"),
        ({"mask_ratio": 0.0}, "method.mask_ratio"),
        ({"mask_ratio": -0.2}, "method.mask_ratio"),
        ({"decoder_heads": 3}, "method.decoder_heads"),
        ({"decoder_depth": 0}, "method.decoder_depth"),
    ],
)
def test_bad_config_is_a_one_line_error_naming_the_key(overrides, key):
    with pytest.raises(PriormatchError, match=key.replace(".", r"\.")) as error:
        tiny_mae(**overrides)
    assert "\n" not in str(error.value)
