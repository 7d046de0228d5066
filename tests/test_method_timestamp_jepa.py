"""JEPA on the per-timestamp conv net: an independent per-series formulation, what each encoder
sees, degenerate cases, missing steps, gradients and the prior head."""

import pytest
import torch

from priormatch.encoders import Conv1dConfig, build_encoder
from priormatch.methods import DataInfo, build_method
from priormatch.methods.jepa import JEPAConfig
from priormatch.methods.timestamp_jepa import TimestampJEPA
from priormatch.training.config import raw_config, resolve_config

SHAPE = (2, 40)  # 2 channels, 40 steps


def tiny(**overrides) -> TimestampJEPA:
    torch.manual_seed(0)
    encoder = build_encoder(Conv1dConfig(hidden=8, depth=3, embed_dim=12), SHAPE)
    config = JEPAConfig(predictor_dim=6, predictor_depth=2, num_prototypes=8, projection_hidden=16, projection_dim=8, **overrides)
    method = build_method(config, encoder, DataInfo(kind="series", input_shape=SHAPE, class_counts=(5,) * 4))
    assert isinstance(method, TimestampJEPA)
    return method.double()


def series(n=3, seed=1):
    return torch.randn(n, *SHAPE, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def reference_loss(method, x, seed, skip_unobserved=True):
    """The same objective written per series, per target block and per step, from the method's mask
    draw; steps with no observed channel count only when ``skip_unobserved`` is False."""
    masks = method.sample_masks(x, torch.Generator().manual_seed(seed))
    total, count = 0.0, 0
    for b in range(x.shape[0]):
        keep = torch.zeros(1, x.shape[2], dtype=torch.bool)
        keep[0, masks.context[b]] = True
        context = method.encoder.timestamps(x[b : b + 1], keep=keep)[0]  # (T, D)
        is_target = torch.zeros(x.shape[2], dtype=torch.bool)
        for block in masks.targets[b]:
            is_target[block] = True
        predictor_input = torch.stack([row + method.mask_token if is_target[t] else row for t, row in enumerate(context)])
        prediction = method.predictor(predictor_input[None])[0]  # (T, D)
        full = method.target_encoder.timestamps(x[b : b + 1])[0]
        targets = (full - full.mean(-1, keepdim=True)) / torch.sqrt(full.var(-1, unbiased=False, keepdim=True) + 1e-5)
        for block in masks.targets[b]:
            for t in block:
                if skip_unobserved and torch.isnan(x[b, :, t]).all():
                    continue
                total = total + ((prediction[t] - targets[t]) ** 2).sum()
                count += prediction[t].numel()
    return total / count


def test_loss_matches_a_per_series_reference():
    method, x = tiny(), series()
    method.target_encoder.load_state_dict({k: v + 0.01 for k, v in method.encoder.state_dict().items()})  # teacher != student
    out = method([x], [], generator=torch.Generator().manual_seed(7))
    assert out.metrics["prediction_loss"] == pytest.approx(reference_loss(method, x, 7).item(), rel=1e-10)


def test_the_context_encoder_never_sees_a_target_value_and_the_target_encoder_does():
    method, x = tiny(), series()
    masks = method.sample_masks(x, torch.Generator().manual_seed(3))
    keep = torch.zeros(x.shape[0], x.shape[2], dtype=torch.bool).scatter(1, masks.context, True)
    changed = torch.where(keep[:, None, :], x, x + 5.0)  # every step outside the context moved
    assert torch.equal(method.encoder.timestamps(x, keep=keep), method.encoder.timestamps(changed, keep=keep))
    assert not torch.allclose(method.target_encoder.timestamps(x), method.target_encoder.timestamps(changed))


def test_a_zero_predictor_costs_the_mean_square_of_the_layer_normalised_targets():
    method = tiny()
    torch.nn.init.zeros_(method.predictor.project.weight)
    torch.nn.init.zeros_(method.predictor.project.bias)
    out = method([series()], [], generator=torch.Generator().manual_seed(0))
    assert out.metrics["prediction_loss"] == pytest.approx(1.0, abs=1e-3)  # var / (var + eps) per step


def test_missing_steps_do_not_count_and_every_trainable_parameter_gets_a_gradient():
    method = tiny(prior="power_law")
    x = series(n=4)
    x[1, :, 25:] = float("nan")  # a shorter series: its NaN tail has no target
    out = method([x], [], generator=torch.Generator().manual_seed(2))
    out.loss.backward()
    assert torch.isfinite(out.loss) and {"kl_to_prior", "cross_entropy"} <= out.metrics.keys()
    missing = [name for name, p in method.named_parameters() if p.requires_grad and p.grad is None]
    assert missing == [] and not any(p.requires_grad for p in method.target_encoder.parameters())
    assert (method.sample_masks(x, torch.Generator().manual_seed(2)).targets[1] >= 25).any()  # targets in the tail
    assert out.metrics["prediction_loss"] == pytest.approx(reference_loss(method, x, 2).item(), rel=1e-10)
    assert out.metrics["prediction_loss"] != pytest.approx(reference_loss(method, x, 2, skip_unobserved=False).item(), rel=1e-6)


def test_the_evaluated_target_encoder_pools_like_the_encoder_and_starts_equal_to_it():
    method, x = tiny(), series()
    pooled, _ = method.target_features(x, torch.ones(x.shape[0], x.shape[2], dtype=torch.bool))
    assert torch.allclose(pooled, method.evaluation_encoder()(x)) and torch.allclose(method.encoder(x), method.target_encoder(x))


@pytest.mark.parametrize("augment", [True, False])
def test_augment_false_trains_on_the_raw_series(augment):
    """method.augment=false: the step's global view is the unaugmented batch (I-JEPA uses no view
    augmentation); true (the default): one crop-scale-jitter view of series_views."""
    from priormatch.data.series_views import SeriesViewsConfig, build_series_views
    from priormatch.training.views import step_views

    method, x = tiny(augment=augment), series().float()
    views = build_series_views(SeriesViewsConfig(), x.shape[-1], 1)
    (view,), focal = step_views(views, x, method.view_spec, torch.Generator().manual_seed(0))
    assert method.view_spec.augmented is augment and not focal
    assert torch.equal(view, x) is not augment


def test_the_cli_trains_it_with_encoder_conv1d():
    config = resolve_config(
        raw_config([], ["data.name=ucr:ECG200", "method.name=jepa", "encoder.name=conv1d"]), data_kind=lambda _: "series"
    )
    assert config.encoder.name == "conv1d" and config.method.name == "jepa"
