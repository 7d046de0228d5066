"""The EMA teacher's schedule: how much of its initialisation a run leaves in it, the short-run
momentum rule, and the warning a run too short for its momentum prints."""

import pytest
import torch
from torch import nn

from priormatch.cli import main
from priormatch.methods.ema import ema_update_
from priormatch.training.schedules import ema_initial_weight, linear, short_run_momentum


def test_initial_weight_by_hand():
    # momenta 0.5, 0.75, 1.0 (linear from 0.5 at the first step to 1 at the last)
    assert ema_initial_weight(3, start=0.5, end=1.0) == pytest.approx(0.5 * 0.75 * 1.0)
    assert ema_initial_weight(10, start=1.0, end=1.0) == 1.0  # a frozen teacher
    assert ema_initial_weight(10, start=0.0, end=0.0) == 0.0  # the teacher copies the student


@pytest.mark.parametrize("steps,start,end", [(20, 0.996, 1.0), (125, 0.92, 1.0), (50, 0.9, 0.99)])
def test_initial_weight_matches_real_ema_updates(steps, start, end):
    """An independent formulation: a teacher initialised at 1, updated towards a student at 0 by
    the training loop's own ema_update_ with the loop's schedule, ends at the initial weight."""
    teacher, student = nn.Linear(1, 1), nn.Linear(1, 1)
    nn.init.ones_(teacher.weight), nn.init.zeros_(student.weight)
    teacher.double(), student.double()
    for step in range(steps):
        ema_update_(teacher, student, linear(step, steps, start=start, end=end))
    assert teacher.weight.item() == pytest.approx(ema_initial_weight(steps, start=start, end=end), rel=1e-9)


def test_teacher_keeps_batch_norm_statistics_of_its_own_inputs():
    """The student sees wide (masked / focal-like) inputs, the teacher narrow ones: after EMA updates
    the teacher's running variance follows its inputs, not the student's; "copy" restores the old rule."""
    student = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4))
    teacher = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4))
    teacher.load_state_dict(student.state_dict())
    nn.init.eye_(student[0].weight), nn.init.zeros_(student[0].bias)
    generator = torch.Generator().manual_seed(0)
    for _ in range(200):
        student(2.0 * torch.randn(256, 4, generator=generator))  # variance 4
        with torch.no_grad():
            teacher(0.5 * torch.randn(256, 4, generator=generator))  # variance ~0.25 after the (converging) linear layer
        ema_update_(teacher, student, 0.0)  # teacher weights = student weights: the linear layer is the identity
    torch.testing.assert_close(teacher[1].running_var, torch.full((4,), 0.25), atol=0.05, rtol=0)
    torch.testing.assert_close(student[1].running_var, torch.full((4,), 4.0), atol=0.6, rtol=0)
    ema_update_(teacher, student, 0.5, normalisation_statistics="copy")
    torch.testing.assert_close(teacher[1].running_var, student[1].running_var)
    with pytest.raises(ValueError, match="normalisation_statistics"):
        ema_update_(teacher, student, 0.5, normalisation_statistics="mean")


@pytest.mark.parametrize("steps", [20, 125, 200, 1000])
def test_short_run_momentum_leaves_under_one_percent_of_the_initialisation(steps):
    assert ema_initial_weight(steps, start=short_run_momentum(steps), end=1.0) < 0.01
    assert ema_initial_weight(steps, start=0.996, end=1.0) > 0.1  # the long-run recipe does not


def run_train(capsys, tiny_config, tmp_path, *overrides):
    code = main(["train", "--config", str(tiny_config(overrides[0])), *overrides[1:], "--out", str(tmp_path / "run")])
    return code, capsys.readouterr().err


def test_short_run_with_the_recipe_momentum_warns_in_one_line(tmp_path, capsys, tiny_config):
    code, err = run_train(capsys, tiny_config, tmp_path, "msn", "train.steps=2", "method.ema_momentum=0.996")
    warnings = [line for line in err.splitlines() if line.startswith("priormatch: warning:")]
    assert code == 0 and len(warnings) == 1, err
    assert "method.ema_momentum=0.996 over 2 steps" in warnings[0] and "set method.ema_momentum=0" in warnings[0]


@pytest.mark.parametrize("method,overrides", [("msn", ["method.ema_momentum=0.0"]), ("simclr", [])])
def test_no_warning_when_the_teacher_moves_or_there_is_none(tmp_path, capsys, tiny_config, method, overrides):
    code, err = run_train(capsys, tiny_config, tmp_path, method, "train.steps=2", *overrides)
    assert code == 0 and "warning" not in err, err
