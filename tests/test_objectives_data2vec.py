"""data2vec targets and loss against hand formulations; the method's masking and teacher semantics."""

import math

import pytest
import torch
from einops import rearrange

from priormatch.encoders import SeriesTransformerConfig, ViTConfig, build_encoder
from priormatch.encoders.masking import random_hidden_mask
from priormatch.errors import PriormatchError
from priormatch.methods import DataInfo, build_method
from priormatch.methods.data2vec import Data2VecConfig
from priormatch.objectives.data2vec import data2vec_loss, data2vec_targets, normalize_layer


def manual_norm(layer, norm, eps=1e-5):
    """Parameter-less normalisation written out: over D per token (layer) or over T per channel (instance)."""
    x = layer.double()
    axis = -1 if norm == "layer" else 1
    mean = x.mean(dim=axis, keepdim=True)
    var = ((x - mean) ** 2).mean(dim=axis, keepdim=True)  # biased, as in layer / instance norm
    return (x - mean) / torch.sqrt(var + eps)


@pytest.mark.parametrize("norm", ["layer", "instance"])
@pytest.mark.parametrize("top_k", [1, 2, 4])
def test_targets_average_the_normalised_top_k_layers(norm, top_k):
    g = torch.Generator().manual_seed(top_k)
    layers = [3.0 * torch.randn(2, 5, 6, generator=g) + i for i in range(4)]
    expected = sum(manual_norm(layer, norm) for layer in layers[-top_k:]) / top_k
    torch.testing.assert_close(data2vec_targets(layers, top_k=top_k, norm=norm), expected.float(), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("norm,axis", [("layer", -1), ("instance", 1)])
def test_normalised_layers_have_zero_mean_and_unit_variance(norm, axis):
    layer = 4.0 + 7.0 * torch.randn(3, 9, 8, dtype=torch.float64)
    out = normalize_layer(layer, norm)
    torch.testing.assert_close(out.mean(dim=axis), torch.zeros_like(out.mean(dim=axis)), atol=1e-9, rtol=0)
    torch.testing.assert_close(out.var(dim=axis, unbiased=False), torch.ones_like(out.mean(dim=axis)), atol=1e-5, rtol=0)


def test_targets_carry_no_gradient_and_ignore_scale():
    layer = torch.randn(2, 4, 6, requires_grad=True)
    targets = data2vec_targets([layer], top_k=1)
    assert not targets.requires_grad
    torch.testing.assert_close(targets, data2vec_targets([10.0 * layer + 3.0], top_k=1), atol=1e-4, rtol=1e-4)


def test_smooth_l1_hand_values_and_masked_positions_only():
    predictions = torch.zeros(1, 3, 2, requires_grad=True)
    targets = torch.tensor([[[1.0, 3.0], [100.0, 100.0], [-0.5, 0.0]]])
    masked = torch.tensor([[True, False, True]])
    # beta = 2: |d| <= 2 -> d^2 / 4, else |d| - 1: (0.25 + 2 + 0.0625 + 0) / 4
    loss = data2vec_loss(predictions, targets, masked, beta=2.0)
    assert loss.item() == pytest.approx((0.25 + 2.0 + 0.0625) / 4)
    # beta = 0: squared error (1 + 9 + 0.25 + 0) / 4
    assert data2vec_loss(predictions, targets, masked, beta=0.0).item() == pytest.approx(10.25 / 4)
    loss.backward()
    assert (predictions.grad[0, 1] == 0).all()
    assert data2vec_loss(predictions, targets, torch.zeros(1, 3, dtype=torch.bool)).item() == 0.0


def test_bad_objective_arguments_name_them():
    with pytest.raises(PriormatchError, match=r"top_k=3 must be an integer in 1\.\.2; only 2 layers"):
        data2vec_targets([torch.randn(1, 2, 3)] * 2, top_k=3)
    with pytest.raises(PriormatchError, match="target_norm"):
        normalize_layer(torch.randn(1, 2, 3), "batch")
    with pytest.raises(PriormatchError, match="beta"):
        data2vec_loss(torch.randn(1, 2, 3), torch.randn(1, 2, 3), torch.ones(1, 2, dtype=torch.bool), beta=-1.0)


def tiny_data2vec(kind="image", **overrides):
    if kind == "image":
        shape, encoder_config = (1, 8, 8), ViTConfig(patch_size=2, embed_dim=16, depth=2, heads=2)
    else:
        shape, encoder_config = (2, 30), SeriesTransformerConfig(patch_length=4, embed_dim=16, depth=2, heads=2)
    torch.manual_seed(0)
    encoder = build_encoder(encoder_config, shape)
    return build_method(Data2VecConfig(**overrides), encoder, DataInfo(kind=kind, input_shape=shape)), shape


def test_teacher_sees_the_full_input_and_student_the_mask_tokens():
    method, shape = tiny_data2vec(mask_ratio=0.5)
    predictions = []
    method.head.register_forward_hook(lambda module, args, output: predictions.append(output.detach()))
    x = torch.randn(4, *shape)
    method([x], [], generator=torch.Generator().manual_seed(3))
    masked = random_hidden_mask(4, 16, 0.5, torch.Generator().manual_seed(3))  # the same draw
    patches = method.encoder.patchify(x)
    patches[masked] = 50.0  # change only the masked patches
    changed = rearrange(patches, "b (h w) (c p q) -> b c (h p) (w q)", h=4, p=2, q=2)
    method([changed], [], generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(predictions[0], predictions[1])  # the student never saw them
    targets, changed_targets = method._targets(x), method._targets(changed)
    assert not torch.allclose(targets[masked], changed_targets[masked])  # the teacher did


def test_targets_come_from_the_teacher_blocks():
    method, shape = tiny_data2vec(top_k_blocks=2, target_norm="instance")
    x = torch.randn(3, *shape)
    _, layers = method.teacher.encode(method.encoder.tokens(x), return_layers=True)
    expected = (manual_norm(layers[0][:, 1:], "instance") + manual_norm(layers[1][:, 1:], "instance")) / 2
    torch.testing.assert_close(method._targets(x), expected.float(), atol=1e-5, rtol=1e-5)
    with torch.no_grad():  # moving the student's blocks (not the teacher's) leaves targets alone
        for p in method.encoder.blocks.parameters():
            p.add_(1.0)
    torch.testing.assert_close(method._targets(x), expected.float(), atol=1e-5, rtol=1e-5)


def test_series_with_missing_values_train_with_finite_gradients():
    method, shape = tiny_data2vec("series")
    x = torch.randn(6, *shape)
    x[0, :, 20:] = math.nan
    x[1, 1, ::2] = math.nan
    output = method([x], [], generator=torch.Generator().manual_seed(0))
    assert torch.isfinite(output.loss)
    output.loss.backward()
    for name, parameter in method.named_parameters():
        if parameter.requires_grad:
            assert parameter.grad is not None and torch.isfinite(parameter.grad).all(), name


@pytest.mark.parametrize(
    "overrides,key",
    [
        ({"mask_ratio": 1.0}, "method.mask_ratio"),
        ({"mask_ratio": 0.0}, "method.mask_ratio"),
        ({"top_k_blocks": 3}, "method.top_k_blocks"),
        ({"top_k_blocks": 0}, "method.top_k_blocks"),
        ({"target_norm": "batch"}, "method.target_norm"),
        ({"loss_beta": -1.0}, "method.loss_beta"),
        ({"ema_momentum": 1.5}, "method.ema_momentum"),
    ],
)
def test_bad_config_is_a_one_line_error_naming_the_key(overrides, key):
    with pytest.raises(PriormatchError, match=key.replace(".", r"\.")) as error:
        tiny_data2vec(**overrides)
    assert "\n" not in str(error.value)
