"""JEPA as a method: an independent per-block formulation, what each encoder sees, degenerate cases,
the prior head, collapse monitoring, the EMA short-run warning and one-line config errors."""

import math
import warnings

import pytest
import torch

from priormatch.encoders import CNNConfig, SeriesTransformerConfig, ViTConfig, build_encoder
from priormatch.errors import PriormatchError
from priormatch.methods import DataInfo, build_method
from priormatch.methods.jepa import JEPAConfig
from priormatch.objectives import pmsn_terms
from priormatch.training.config import raw_config, resolve_config
from priormatch.training.loop import warn_if_static_teacher

SERIES_SHAPE = (2, 40)  # patch 4 -> 10 time tokens


def tiny_jepa(kind="series", **overrides):
    if kind == "series":
        shape, encoder_config = SERIES_SHAPE, SeriesTransformerConfig(patch_length=4, embed_dim=16, depth=2, heads=2)
    else:
        shape, encoder_config = (1, 8, 8), ViTConfig(patch_size=2, embed_dim=16, depth=1, heads=2)
    torch.manual_seed(0)
    encoder = build_encoder(encoder_config, shape)
    config = JEPAConfig(
        predictor_dim=8, predictor_depth=1, predictor_heads=2, num_prototypes=8, projection_hidden=16, projection_dim=8, **overrides
    )
    method = build_method(config, encoder, DataInfo(kind=kind, input_shape=shape, class_counts=(5,) * 4))
    return method.double(), shape


def reference_prediction_loss(method, x, seed):
    """The JEPA written out block by block: context tokens through the online encoder, one predictor
    pass per (sample, target block), targets from the target encoder, layer-normalised by hand."""
    masks = method.sample_masks(x, torch.Generator().manual_seed(seed))  # the method's draw
    encoder, target_encoder, predictor = method.encoder, method.target_encoder, method.predictor
    positions = encoder.positions(x).double()
    full = target_encoder.encode(target_encoder.tokens(x))[:, 1:]  # (B, T, D)
    mean, var = full.mean(dim=-1, keepdim=True), full.var(dim=-1, unbiased=False, keepdim=True)
    targets = (full - mean) / torch.sqrt(var + 1e-5)
    total, count = 0.0, 0
    for b in range(x.shape[0]):
        context = encoder.encode(encoder.tokens(x[b : b + 1]), keep=masks.context[b : b + 1])[0]  # (1 + N_ctx, D)
        seen = torch.cat([context[:1], context[1:] + positions[masks.context[b]]])
        for block in masks.targets[b]:
            queries = method.mask_token + positions[block]  # (L, D)
            x_p = predictor.embed(torch.cat([seen, queries])[None])
            for layer in predictor.blocks:
                x_p = layer(x_p)
            prediction = predictor.project(predictor.norm(x_p))[0, -len(block) :]  # (L, D)
            total = total + ((prediction - targets[b, block]) ** 2).sum()
            count += prediction.numel()
    return total / count


@pytest.mark.parametrize("kind", ["series", "image"])
def test_loss_matches_a_per_block_reference(kind):
    method, shape = tiny_jepa(kind)
    x = torch.randn(5, *shape, dtype=torch.float64)
    output = method([x], [], generator=torch.Generator().manual_seed(7))
    expected = reference_prediction_loss(method, x, seed=7)
    torch.testing.assert_close(output.loss, expected, rtol=1e-9, atol=1e-9)
    assert output.metrics["loss"] == pytest.approx(output.metrics["prediction_loss"])


def test_context_encoder_and_predictor_never_see_the_target_tokens_and_the_target_encoder_does():
    method, shape = tiny_jepa()
    predictions = []
    method.predictor.register_forward_hook(lambda module, args, output: predictions.append(output.detach()))
    x = torch.randn(4, *shape, dtype=torch.float64)
    masks = method.sample_masks(x, torch.Generator().manual_seed(3))
    changed = x.clone()
    in_targets = torch.zeros(4, 10, dtype=torch.bool).scatter(1, masks.targets.flatten(1), True)
    not_context = in_targets.clone()
    not_context.scatter_(1, masks.context, False)
    steps = not_context.repeat_interleave(4, dim=1)[:, None, :].expand_as(x)  # every value of a token outside the context
    changed[steps] = 50.0
    method([x], [], generator=torch.Generator().manual_seed(3))
    method([changed], [], generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(predictions[0], predictions[1])  # the context side is blind to them
    _, targets = method.target_features(x)
    _, changed_targets = method.target_features(changed)
    assert not torch.allclose(targets[in_targets], changed_targets[in_targets])  # the target side is not


def test_target_encoder_starts_as_the_context_encoder_so_context_and_target_features_coincide():
    """Identical context and target: at initialisation (and after an update with momentum 0) the
    target encoder gives the online encoder's features; momentum 1 leaves it where it is."""
    method, shape = tiny_jepa(target_norm="none")
    x = torch.randn(3, *shape, dtype=torch.float64)
    online = method.encoder.encode(method.encoder.tokens(x))
    pooled, features = method.target_features(x)
    torch.testing.assert_close(features, online[:, 1:])
    torch.testing.assert_close(pooled, online[:, 0])
    with torch.no_grad():
        for p in method.encoder.parameters():
            p.add_(0.1)
    method.update_teacher(1.0)
    assert not torch.allclose(method.target_features(x)[1], method.encoder.encode(method.encoder.tokens(x))[:, 1:])
    method.update_teacher(0.0)
    torch.testing.assert_close(method.target_features(x)[1], method.encoder.encode(method.encoder.tokens(x))[:, 1:])
    assert method.evaluation_encoder() is method.target_encoder


@pytest.mark.parametrize("target_norm", ["layer", "none"])
def test_a_zero_predictor_costs_the_mean_square_of_the_targets(target_norm):
    method, shape = tiny_jepa(target_norm=target_norm)
    with torch.no_grad():
        method.predictor.project.weight.zero_()
        method.predictor.project.bias.zero_()
    x = torch.randn(6, *shape, dtype=torch.float64)
    output = method([x], [], generator=torch.Generator().manual_seed(1))
    masks = method.sample_masks(x, torch.Generator().manual_seed(1))
    _, features = method.target_features(x)
    expected = torch.stack([features[b, masks.targets[b]] for b in range(6)]).square().mean()
    torch.testing.assert_close(output.loss, expected)
    if target_norm == "layer":
        assert output.loss.item() == pytest.approx(1.0, abs=1e-4)


def test_series_with_missing_patches_train_with_finite_gradients_and_missing_targets_do_not_count():
    method, shape = tiny_jepa()
    x = torch.randn(6, *shape, dtype=torch.float64)
    x[0, :, 24:] = math.nan  # end padding: the last 4 patches of series 0 hold no value
    x[1, 1, ::2] = math.nan
    output = method([x], [], generator=torch.Generator().manual_seed(0))
    assert torch.isfinite(output.loss)
    output.loss.backward()
    for name, parameter in method.named_parameters():
        if parameter.requires_grad:
            assert parameter.grad is not None and torch.isfinite(parameter.grad).all(), name
    observed = method.observed_tokens(x)
    assert observed[0].tolist() == [True] * 6 + [False] * 4 and observed[1:].all()


def test_the_prior_head_adds_the_pmsn_terms_of_context_and_target_pooled_outputs():
    method, shape = tiny_jepa(prior="power_law", tau=1.0, prototype_weight=0.5)
    plain, _ = tiny_jepa()
    x = torch.randn(8, *shape, dtype=torch.float64)
    output = method([x], [], generator=torch.Generator().manual_seed(2))
    without = plain([x], [], generator=torch.Generator().manual_seed(2))
    assert output.metrics["prediction_loss"] == pytest.approx(without.metrics["prediction_loss"])  # same weights, same draw
    masks = method.sample_masks(x, torch.Generator().manual_seed(2))
    anchor = method.encoder.encode(method.encoder.tokens(x), keep=masks.context)[:, 0]
    target, _ = method.target_features(x)
    z_anchor, z_target = method.projector(torch.cat([anchor, target])).chunk(2)
    terms = pmsn_terms(z_anchor, z_target, method.prototypes, method.prior)
    torch.testing.assert_close(output.loss, without.loss + 0.5 * terms.loss)
    assert {"cross_entropy", "regularizer", "prototypes_in_use", "pbar_entropy", "kl_to_prior"} <= set(output.metrics)
    assert output.metrics["regularizer"] == pytest.approx(terms.regularizer.item())


def test_target_std_monitors_collapse_across_series():
    method, shape = tiny_jepa()
    same = torch.randn(1, *shape, dtype=torch.float64).expand(6, -1, -1).contiguous()
    collapsed = method([same], [], generator=torch.Generator().manual_seed(0)).metrics
    assert collapsed["target_std_across_samples"] == pytest.approx(0.0, abs=1e-6)
    assert collapsed["target_std"] > 0.05  # positions still differ: only the across-sample std sees the collapse
    spread = method([torch.randn(6, *shape, dtype=torch.float64)], [], generator=torch.Generator().manual_seed(0))
    assert spread.metrics["target_std_across_samples"] > 0.05
    assert spread.metrics["context_tokens"] >= 1 and spread.metrics["target_tokens"] >= 4


def jepa_run_config(*overrides):
    return resolve_config(raw_config([], ["data.name=ucr:ECG200", "method.name=jepa", *overrides]), data_kind=lambda _: "series")


def test_default_series_encoder_is_the_recipe_conv_net_and_the_short_run_warning_applies():
    config = jepa_run_config()
    assert config.encoder.name == "conv1d"  # the per-timestamp JEPA; encoder.name=series_transformer for the token JEPA
    assert jepa_run_config("encoder.name=series_transformer").encoder.name == "series_transformer"
    method, _ = tiny_jepa()
    with pytest.warns(UserWarning, match=r"method.ema_momentum=0.95 \(1 - 10 / steps\)"):
        warn_if_static_teacher(config, method, 200)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_if_static_teacher(jepa_run_config("method.ema_momentum=0.95"), tiny_jepa(ema_momentum=0.95)[0], 200)


@pytest.mark.parametrize(
    "override,key",
    [
        ("method.num_target_blocks=0", "method.num_target_blocks"),
        ("method.target_scale=[0.5,1.0]", "method.target_scale"),
        ("method.target_scale=[0.3,0.2]", "method.target_scale"),
        ("method.context_scale=[0.0,1.0]", "method.context_scale"),
        ("method.aspect_ratio=[2.0,1.0]", "method.aspect_ratio"),
        ("method.aspect_ratio=[0.0,1.0]", "method.aspect_ratio"),
        ("method.predictor_heads=3", "method.predictor_heads"),
        ("method.predictor_depth=0", "method.predictor_depth"),
        ("method.target_norm=batch", "method.target_norm"),
        ("method.loss_beta=-1", "method.loss_beta"),
        ("method.ema_momentum=1.5", "method.ema_momentum"),
        ("method.sinkhorn_marginals=sorted", "method.sinkhorn_marginals"),
        ("method.num_prototypes=1", "method.num_prototypes"),
    ],
)
def test_bad_config_is_a_one_line_error_naming_the_key(override, key):
    with pytest.raises(PriormatchError, match=key.replace(".", r"\.")) as error:
        jepa_run_config(override)
    assert "\n" not in str(error.value)


def test_the_image_cnn_is_refused_with_the_fix_and_conv1d_gets_the_timestamp_jepa():
    with pytest.raises(PriormatchError, match="encoder.name=series_transformer \\(series\\) or encoder.name=conv1d"):
        build_method(JEPAConfig(), build_encoder(CNNConfig(), (1, 8, 8)), DataInfo(kind="image", input_shape=(1, 8, 8)))
    conv = build_method(
        JEPAConfig(),
        build_encoder(jepa_run_config("encoder.name=conv1d").encoder, SERIES_SHAPE),
        DataInfo(kind="series", input_shape=SERIES_SHAPE),
    )
    assert type(conv).__name__ == "TimestampJEPA"


def test_image_masks_use_two_dimensional_blocks():
    method, shape = tiny_jepa("image")
    masks = method.sample_masks(torch.zeros(2, *shape), torch.Generator().manual_seed(0))
    h, w = masks.block_shape
    assert masks.targets.shape == (2, 4, h * w) and h < 4 and w < 4  # a 4 x 4 patch grid
    assert (masks.targets < 16).all() and (masks.context < 16).all()
