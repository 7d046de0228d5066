"""JEPA's latent-prediction loss and I-JEPA's block masks against independent formulations."""

import pytest
import torch

from priormatch.encoders.block_masks import sample_block_masks
from priormatch.errors import PriormatchError
from priormatch.objectives.latent_prediction import gather_blocks, latent_prediction_loss, latent_targets, per_dimension_std


def reference_loss(predictions, targets, valid, beta):
    """Loop over every valid predicted token: the mean over tokens and dimensions of the squared
    error (beta = 0) or the Smooth L1 written out (|d| < beta: d^2 / (2 beta), else |d| - beta / 2)."""
    total, count = 0.0, 0
    b, m, length, d = predictions.shape
    for i in range(b):
        for j in range(m):
            for k in range(length):
                if not valid[i, j, k]:
                    continue
                for c in range(d):
                    diff = (predictions[i, j, k, c] - targets[i, j, k, c]).abs()
                    if beta == 0:
                        total = total + diff**2
                    else:
                        total = total + (diff**2 / (2 * beta) if diff < beta else diff - beta / 2)
                    count += 1
    return total / count


@pytest.mark.parametrize("beta", [0.0, 1.0, 2.0])
def test_loss_and_gradient_match_a_loop_over_valid_tokens(beta):
    g = torch.Generator().manual_seed(int(beta))
    predictions = torch.randn(3, 2, 4, 5, generator=g, dtype=torch.float64, requires_grad=True)
    targets = 2.0 * torch.randn(3, 2, 4, 5, generator=g, dtype=torch.float64)
    valid = torch.rand(3, 2, 4, generator=g) < 0.7
    loss = latent_prediction_loss(predictions, targets, valid, beta=beta)
    (grad,) = torch.autograd.grad(loss, predictions)
    expected = reference_loss(predictions, targets, valid, beta)
    (expected_grad,) = torch.autograd.grad(expected, predictions)
    torch.testing.assert_close(loss, expected, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(grad, expected_grad, rtol=1e-12, atol=1e-12)


def test_equal_blocks_give_the_papers_per_block_average():
    """I-JEPA eq. 1, (1 / M) sum_i sum_{j in B_i} ||s_hat_j - s_j||^2, divided by L * D for blocks of L tokens."""
    g = torch.Generator().manual_seed(0)
    predictions = torch.randn(2, 3, 4, 6, generator=g, dtype=torch.float64)
    targets = torch.randn(2, 3, 4, 6, generator=g, dtype=torch.float64)
    for sample in range(2):
        per_block = [((predictions[sample, i] - targets[sample, i]) ** 2).sum() for i in range(3)]
        paper = sum(per_block) / 3 / (4 * 6)
        torch.testing.assert_close(latent_prediction_loss(predictions[sample : sample + 1], targets[sample : sample + 1]), paper)


def test_identical_predictions_and_targets_cost_nothing():
    targets = torch.randn(2, 2, 3, 4)
    predictions = targets.clone().requires_grad_(True)
    loss = latent_prediction_loss(predictions, targets, beta=0.0)
    loss.backward()
    assert loss.item() == 0.0 and (predictions.grad == 0).all()


def test_zero_predictions_on_layer_normalised_targets_cost_one():
    """Degenerate zero predictor: the loss is the mean square of the targets, 1 after layer norm
    (each token has mean 0 and variance var / (var + eps))."""
    features = 5.0 + 3.0 * torch.randn(4, 10, 16, dtype=torch.float64)
    targets = latent_targets(features, "layer")
    blocks = torch.tensor([[[1, 2, 3], [6, 7, 8]]] * 4)
    loss = latent_prediction_loss(torch.zeros(4, 2, 3, 16, dtype=torch.float64), gather_blocks(targets, blocks))
    assert loss.item() == pytest.approx(1.0, abs=1e-5)
    raw = latent_targets(features, "none")
    torch.testing.assert_close(raw, features)
    zero = latent_prediction_loss(torch.zeros(4, 2, 3, 16, dtype=torch.float64), gather_blocks(raw, blocks))
    torch.testing.assert_close(zero, gather_blocks(features, blocks).square().mean())


def test_targets_carry_no_gradient_and_invalid_tokens_do_not_count():
    features = torch.randn(2, 6, 3, requires_grad=True)
    targets = latent_targets(features)
    assert not targets.requires_grad
    predictions = torch.randn(2, 1, 3, 3, requires_grad=True)
    blocks = torch.tensor([[[0, 1, 2]], [[3, 4, 5]]])
    valid = torch.tensor([[[True, False, True]], [[True, True, False]]])
    moved = targets.clone()
    moved[0, 1] += 100.0  # an invalid token's target
    moved[1, 5] += 100.0
    loss = latent_prediction_loss(predictions, gather_blocks(targets, blocks), valid)
    torch.testing.assert_close(loss, latent_prediction_loss(predictions, gather_blocks(moved, blocks), valid))
    loss.backward()
    assert (predictions.grad[~valid] == 0).all() and (predictions.grad[valid] != 0).any()
    none_valid = torch.zeros(2, 1, 3, dtype=torch.bool)
    assert latent_prediction_loss(predictions, gather_blocks(targets, blocks), none_valid).item() == 0.0


def test_gather_blocks_is_indexing_per_sample():
    features = torch.randn(3, 7, 2)
    blocks = torch.randint(0, 7, (3, 2, 4), generator=torch.Generator().manual_seed(1))
    gathered = gather_blocks(features, blocks)
    for b in range(3):
        for m in range(2):
            torch.testing.assert_close(gathered[b, m], features[b, blocks[b, m]])
    observed = torch.rand(3, 7) < 0.5
    assert torch.equal(gather_blocks(observed, blocks)[2, 1], observed[2, blocks[2, 1]])


def test_per_dimension_std_is_zero_under_collapse_even_with_varying_positions():
    per_position = torch.randn(1, 9, 4)
    collapsed = per_position.expand(6, -1, -1)  # every sample the same, positions differ
    assert per_dimension_std(collapsed) == pytest.approx(0.0, abs=1e-7)
    spread = torch.randn(6, 9, 4, dtype=torch.float64)
    expected = sum(spread[:, t, c].std(unbiased=False) for t in range(9) for c in range(4)) / 36
    assert per_dimension_std(spread) == pytest.approx(float(expected), rel=1e-5)
    tokens = spread.flatten(0, 1)  # over every token: data2vec's target_std, population std
    assert per_dimension_std(tokens) == pytest.approx(float(tokens.std(dim=0, unbiased=False).mean()), rel=1e-6)


def test_bad_arguments_are_errors_naming_them():
    with pytest.raises(PriormatchError, match="predictions and targets"):
        latent_prediction_loss(torch.zeros(2, 3, 4), torch.zeros(2, 3, 4))
    with pytest.raises(PriormatchError, match="valid must be"):
        latent_prediction_loss(torch.zeros(1, 2, 3, 4), torch.zeros(1, 2, 3, 4), torch.ones(1, 2, dtype=torch.bool))
    with pytest.raises(PriormatchError, match="target_norm"):
        latent_targets(torch.zeros(1, 2, 3), "instance")


# ---- block masks ------------------------------------------------------------------------------


def masks(grid, seed=0, batch=8, num_blocks=4, target_scale=(0.15, 0.2), context_scale=(0.85, 1.0), aspect_ratio=(0.75, 1.5)):
    return sample_block_masks(
        batch,
        grid,
        num_blocks=num_blocks,
        target_scale=target_scale,
        context_scale=context_scale,
        aspect_ratio=aspect_ratio,
        generator=torch.Generator().manual_seed(seed),
    )


@pytest.mark.parametrize("seed", range(5))
def test_series_target_blocks_are_runs_of_consecutive_tokens_sized_by_the_scale(seed):
    drawn = masks((1, 40), seed)
    b, m, length = drawn.targets.shape
    assert (b, m) == (8, 4) and drawn.block_shape == (1, length)
    assert 6 <= length <= 8  # round(0.15 * 40) .. round(0.2 * 40)
    steps = drawn.targets.diff(dim=-1)
    assert (steps == 1).all() and (drawn.targets >= 0).all() and (drawn.targets < 40).all()


@pytest.mark.parametrize("grid", [(1, 5), (1, 12), (1, 40), (4, 4), (3, 5), (7, 7)])
@pytest.mark.parametrize("seed", range(4))
def test_context_is_non_empty_shared_in_size_and_outside_every_target_block(grid, seed):
    drawn = masks(grid, seed)
    tokens = grid[0] * grid[1]
    assert drawn.context.shape[0] == 8 and drawn.context.shape[1] >= 1
    assert (drawn.context.diff(dim=1) > 0).all() and (drawn.context < tokens).all()  # sorted, distinct
    for sample in range(8):
        assert not set(drawn.context[sample].tolist()) & set(drawn.targets[sample].flatten().tolist())


@pytest.mark.parametrize("seed", range(4))
def test_image_target_blocks_are_rectangles_strictly_inside_the_grid(seed):
    rows, cols = 6, 8
    drawn = masks((rows, cols), seed, target_scale=(0.15, 0.2))
    h, w = drawn.block_shape
    assert h < rows and w < cols and drawn.targets.shape[-1] == h * w
    for block in drawn.targets.reshape(-1, h * w):
        r, c = block // cols, block % cols
        assert (r.max() - r.min() + 1, c.max() - c.min() + 1) == (h, w)  # a whole h x w rectangle


def test_a_context_block_inside_the_targets_falls_back_to_every_token_outside_them():
    """Four 1-token targets on a 5-token series leave one token: the context, wherever the
    1-token context block landed."""
    for seed in range(10):
        drawn = masks((1, 5), seed, target_scale=(0.2, 0.2), context_scale=(0.2, 0.2))
        assert drawn.targets.shape[-1] == 1 and drawn.context.shape[1] == 1
        for sample in range(8):
            assert len(set(drawn.targets[sample].flatten().tolist()) | set(drawn.context[sample].tolist())) >= 2


def test_blocks_are_shrunk_until_the_targets_leave_a_token():
    drawn = masks((1, 10), 0, num_blocks=4, target_scale=(0.9, 0.9))  # 4 x 9 tokens would cover everything
    assert drawn.targets.shape[-1] * 4 <= 9


def test_same_generator_same_masks_and_another_seed_other_masks():
    a, b, c = masks((1, 30), 3), masks((1, 30), 3), masks((1, 30), 4)
    assert torch.equal(a.targets, b.targets) and torch.equal(a.context, b.context)
    assert not (torch.equal(a.targets, c.targets) and torch.equal(a.context, c.context))


def test_too_few_tokens_for_the_blocks_is_a_one_line_error():
    with pytest.raises(PriormatchError, match="method.num_target_blocks") as error:
        masks((1, 4), num_blocks=4)
    assert "\n" not in str(error.value)


def test_targets_cover_about_the_requested_share_on_average():
    shares = [masks((1, 100), seed, batch=1, num_blocks=1).targets.shape[-1] / 100 for seed in range(200)]
    assert 0.15 <= min(shares) and max(shares) <= 0.2
    assert sum(shares) / len(shares) == pytest.approx(0.175, abs=0.005)
