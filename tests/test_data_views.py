"""Batched image views: shapes, reproducibility, per-sample randomness, identity, errors."""

from __future__ import annotations

import pytest
import torch

from priormatch.data.image_views import ImageViews, crop_flip_affine
from priormatch.errors import PriormatchError

MEAN, STD = (0.2, 0.5, 0.7), (0.5, 0.6, 0.7)


def images(batch: int = 8, channels: int = 3, height: int = 16, width: int = 16) -> torch.Tensor:
    return torch.rand(batch, channels, height, width, generator=torch.Generator().manual_seed(0))


def normalised(x: torch.Tensor) -> torch.Tensor:
    return (x - torch.tensor(MEAN).view(1, -1, 1, 1)) / torch.tensor(STD).view(1, -1, 1, 1)


def identity_views(**overrides) -> ImageViews:
    settings = dict(global_scale=(1.0, 1.0), hflip=False, brightness=0.0, contrast=0.0)
    settings.update(overrides)
    return ImageViews(16, 16, MEAN, STD, **settings)


def test_shapes_and_counts() -> None:
    views = ImageViews(12, 6, MEAN, STD)
    global_views, focal_views = views(images(), num_global=2, num_focal=5, generator=torch.Generator().manual_seed(1))
    assert len(global_views) == 2 and len(focal_views) == 5
    assert all(v.shape == (8, 3, 12, 12) for v in global_views)
    assert all(v.shape == (8, 3, 6, 6) for v in focal_views)
    assert all(torch.isfinite(v).all() for v in global_views + focal_views)


def test_same_generator_seed_gives_the_same_views() -> None:
    views, x = ImageViews(12, 6, MEAN, STD, noise_std=0.05), images()
    first = views(x, num_global=2, num_focal=2, generator=torch.Generator().manual_seed(3))
    second = views(x, num_global=2, num_focal=2, generator=torch.Generator().manual_seed(3))
    third = views(x, num_global=2, num_focal=2, generator=torch.Generator().manual_seed(4))
    for a, b, c in zip(first[0] + first[1], second[0] + second[1], third[0] + third[1]):
        assert torch.equal(a, b) and not torch.equal(a, c)
    assert not torch.equal(first[0][0], first[0][1])  # two views of one call differ


def test_crops_differ_across_samples() -> None:
    theta = crop_flip_affine(64, 16, 16, (0.3, 1.0), (0.75, 4 / 3), True, torch.Generator().manual_seed(0))
    assert theta.shape == (64, 2, 3)
    assert len(torch.unique(theta[:, 0, 2])) == 64 and len(torch.unique(theta[:, 1, 1])) > 1  # centres, sizes
    assert 0 < (theta[:, 0, 0] < 0).sum() < 64  # some samples flipped, not all
    # Every crop stays inside the image and has an area fraction within the scale range.
    assert (theta[:, 0, 0].abs() + theta[:, 0, 2].abs() <= 1 + 1e-6).all()
    assert (theta[:, 1, 1] + theta[:, 1, 2].abs() <= 1 + 1e-6).all()
    area = theta[:, 0, 0].abs() * theta[:, 1, 1]
    assert (area >= 0.3 - 1e-6).all() and (area <= 1 + 1e-6).all()
    x = torch.rand(1, 1, 16, 16).expand(64, 1, 16, 16)  # one image, 64 copies
    view = ImageViews(16, 8, [0.0], [1.0], brightness=0.0, contrast=0.0)(
        x, num_global=1, num_focal=0, generator=torch.Generator().manual_seed(0)
    )[0][0]
    assert len({tuple(v.flatten().tolist()) for v in view}) == 64


def test_full_crop_without_flip_or_jitter_is_the_normalised_image() -> None:
    x = images()
    global_views, _ = identity_views()(x, num_global=2, num_focal=0, generator=torch.Generator().manual_seed(0))
    for view in global_views:
        torch.testing.assert_close(view, normalised(x), atol=1e-5, rtol=0)
    torch.testing.assert_close(identity_views().evaluation_view(x), normalised(x))


def test_non_square_image_full_crop_is_identity_when_ratio_matches() -> None:
    x = images(height=8, width=16)
    views = ImageViews(8, 8, MEAN, STD, global_scale=(1.0, 1.0), ratio=(2.0, 2.0), hflip=False, brightness=0, contrast=0)
    theta = crop_flip_affine(8, 8, 16, (1.0, 1.0), (2.0, 2.0), False, torch.Generator().manual_seed(0))
    torch.testing.assert_close(theta, torch.tensor([[1.0, 0, 0], [0, 1.0, 0]]).expand(8, 2, 3))
    assert views(x, num_global=1, num_focal=0, generator=torch.Generator())[0][0].shape == (8, 3, 8, 8)


def test_flip_mirrors_the_image() -> None:
    x = images(batch=64)
    flipped, _ = identity_views(hflip=True)(x, num_global=1, num_focal=0, generator=torch.Generator().manual_seed(0))
    reference = normalised(x)
    mirrored = torch.isclose(flipped[0], reference.flip(-1), atol=1e-5).flatten(1).all(1)
    same = torch.isclose(flipped[0], reference, atol=1e-5).flatten(1).all(1)
    assert (mirrored | same).all() and mirrored.any() and same.any()


def test_jitter_changes_brightness_and_keeps_range() -> None:
    x = images(batch=32)
    views = identity_views(brightness=0.4, contrast=0.4)
    jittered = views(x, num_global=1, num_focal=0, generator=torch.Generator().manual_seed(0))[0][0]
    unnormalised = jittered * torch.tensor(STD).view(1, -1, 1, 1) + torch.tensor(MEAN).view(1, -1, 1, 1)
    assert unnormalised.min() >= -1e-6 and unnormalised.max() <= 1 + 1e-6
    ratio = unnormalised.mean(dim=(1, 2, 3)) / x.mean(dim=(1, 2, 3))
    assert ratio.std() > 0.05  # per-sample factors


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"global_scale": (0.0, 1.0)}, "global_scale"),
        ({"focal_scale": (0.5, 0.2)}, "focal_scale"),
        ({"ratio": (2.0, 1.0)}, "ratio"),
        ({"brightness": -0.1}, "brightness"),
        ({"std": (1.0, 0.0, 1.0)}, r"std\[1\]=0.0 must be a finite number > 0"),
    ],
)
def test_constructor_errors(kwargs: dict, message: str) -> None:
    settings = dict(image_size=8, focal_size=4, mean=MEAN, std=STD)
    settings.update(kwargs)
    with pytest.raises(PriormatchError, match=message):
        ImageViews(**settings)


def test_channel_mismatch_is_an_error() -> None:
    with pytest.raises(PriormatchError, match=r"must be \(batch, 3, H, W\)"):
        ImageViews(8, 4, MEAN, STD).evaluation_view(torch.rand(2, 1, 8, 8))
