"""Contracts every registered method must meet: a new method is tested for free."""

from pathlib import Path

import pytest
import torch

from priormatch.data import dataset_kind
from priormatch.encoders import build_encoder
from priormatch.methods import METHODS, DataInfo, build_method
from priormatch.training.config import raw_config, resolve_config

TINY = Path(__file__).resolve().parents[1] / "configs" / "tiny"
# (global, focal) sample shapes by the data kind of the tiny config (ts2vec's is series).
# Every method's tiny config, plus variants a method builds differently (JEPA on the conv net).
CASES = [*sorted(METHODS), "jepa_conv1d"]
SAMPLE_SHAPES = {"image": ((1, 8, 8), (1, 4, 4)), "series": ((1, 32), (1, 16))}


def tiny_method(name: str, seed: int = 0):
    raw = raw_config([TINY / f"{name}.yaml"])
    kind = dataset_kind(raw.data.name)
    config = resolve_config(raw, data_kind=lambda _: kind)
    input_shape, focal_shape = SAMPLE_SHAPES[kind]
    torch.manual_seed(seed)
    encoder = build_encoder(config.encoder, input_shape)
    info = DataInfo(kind=kind, input_shape=input_shape, class_counts=tuple([20] * 10))
    method = build_method(config.method, encoder, info)
    method.contract_shapes = (input_shape, focal_shape)
    return method


def tiny_views(method, seed: int = 0, batch: int = 16):
    g = torch.Generator().manual_seed(seed)
    spec = method.view_spec
    input_shape, focal_shape = method.contract_shapes
    global_views = [torch.randn(batch, *input_shape, generator=g) for _ in range(spec.num_global)]
    focal_views = [torch.randn(batch, *focal_shape, generator=g) for _ in range(spec.num_focal)]
    return global_views, focal_views


def run_step(method, seed: int = 0):
    global_views, focal_views = tiny_views(method, seed)
    return method(global_views, focal_views, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("name", sorted(METHODS))
def test_tiny_config_exists_for_every_method(name):
    assert (TINY / f"{name}.yaml").is_file(), f"add configs/tiny/{name}.yaml"


@pytest.mark.parametrize("name", CASES)
def test_finite_scalar_loss(name):
    output = run_step(tiny_method(name))
    assert output.loss.ndim == 0 and torch.isfinite(output.loss)
    assert all(isinstance(v, float) for v in output.metrics.values())


@pytest.mark.parametrize("name", CASES)
def test_gradient_reaches_every_trainable_parameter_and_no_teacher(name):
    method = tiny_method(name)
    run_step(method).loss.backward()
    teacher_ids = {id(p) for module in method.teacher_modules() for p in module.parameters()}
    for parameter_name, parameter in method.named_parameters():
        if id(parameter) in teacher_ids:
            assert not parameter.requires_grad and parameter.grad is None, f"teacher parameter {parameter_name} got a gradient"
        else:
            assert parameter.requires_grad, f"{parameter_name} is frozen but not a teacher parameter"
            assert parameter.grad is not None and parameter.grad.abs().sum() > 0, f"{parameter_name} got no gradient"


@pytest.mark.parametrize("name", CASES)
def test_same_seed_same_loss(name):
    assert run_step(tiny_method(name, seed=3), seed=1).loss.item() == run_step(tiny_method(name, seed=3), seed=1).loss.item()


@pytest.mark.parametrize("name", CASES)
def test_a_few_steps_reduce_the_loss_on_a_fixed_batch(name):
    method = tiny_method(name)
    optimizer = torch.optim.Adam([p for p in method.parameters() if p.requires_grad], lr=1e-3)
    losses = []
    for _ in range(15):
        output = run_step(method, seed=0)
        optimizer.zero_grad()
        output.loss.backward()
        optimizer.step()
        method.update_teacher(0.99)
        losses.append(output.loss.item())
    assert min(losses[-3:]) < losses[0], losses


@pytest.mark.parametrize("name", CASES)
def test_teacher_update_moves_teacher_towards_student(name):
    method = tiny_method(name)
    if not method.teacher_modules():
        pytest.skip(f"{name} has no teacher")
    with torch.no_grad():
        for p in method.encoder.parameters():
            p.add_(1.0)
    before = [p.clone() for m in method.teacher_modules() for p in m.parameters()]
    method.update_teacher(0.5)
    after = [p for m in method.teacher_modules() for p in m.parameters()]
    assert any(not torch.equal(b, a) for b, a in zip(before, after))
    method.update_teacher(1.0)
    assert all(torch.equal(a, b) for a, b in zip(after, [p for m in method.teacher_modules() for p in m.parameters()]))


@pytest.mark.parametrize("name", CASES)
def test_the_teacher_schedule_is_stated_by_the_method(name):
    """An EMA teacher's (start, end) momentum comes from the method, so the loop never inspects configs."""
    method = tiny_method(name)
    momentum_range = method.teacher_momentum_range()
    config = method.config if hasattr(method, "config") else None
    if momentum_range is None:
        assert not hasattr(config, "ema_momentum")
    else:
        assert momentum_range == (config.ema_momentum, config.ema_momentum_end) and method.uses_teacher
