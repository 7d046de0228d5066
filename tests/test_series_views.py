import pytest
import torch

from priormatch.data.series_views import SeriesViews, resample_linear
from priormatch.errors import PriormatchError


def _batch(batch: int = 6, channels: int = 2, steps: int = 40) -> torch.Tensor:
    return torch.randn(batch, channels, steps, generator=torch.Generator().manual_seed(0))


def test_view_shapes_default_and_explicit_lengths():
    x = _batch()
    global_views, focal_views = SeriesViews()(x, num_global=2, num_focal=3, generator=torch.Generator().manual_seed(1))
    assert [v.shape for v in global_views] == [(6, 2, 40)] * 2
    assert [v.shape for v in focal_views] == [(6, 2, 20)] * 3
    views = SeriesViews(output_length=32, focal_output_length=12)
    global_views, focal_views = views(x, num_global=1, num_focal=0, generator=torch.Generator().manual_seed(1))
    assert global_views[0].shape == (6, 2, 32) and global_views[0].dtype == torch.float32 and focal_views == []
    assert views.evaluation_view(x) is x


def test_views_are_deterministic_under_the_generator_and_differ_across_views():
    x = _batch()
    views = SeriesViews(time_mask_ratio=0.2)
    first = views(x, num_global=2, num_focal=2, generator=torch.Generator().manual_seed(7))
    again = views(x, num_global=2, num_focal=2, generator=torch.Generator().manual_seed(7))
    other = views(x, num_global=2, num_focal=2, generator=torch.Generator().manual_seed(8))
    for a, b in zip(first[0] + first[1], again[0] + again[1]):
        torch.testing.assert_close(a, b)
    assert not torch.equal(first[0][0], first[0][1])
    assert not torch.equal(first[0][0], other[0][0])


def test_full_crop_without_noise_is_the_identity():
    x = _batch()
    views = SeriesViews(crop_scale=(1.0, 1.0), scale_std=0.0, jitter_std=0.0)
    (view,), _ = views(x, num_global=1, num_focal=0, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(view, x)


def test_linear_resampling_reference_values():
    x = torch.tensor([[[0.0, 10.0, 20.0, 30.0]]])
    out = resample_linear(x, torch.tensor([[0.0, 0.5, 1.25, 3.0]]))
    torch.testing.assert_close(out, torch.tensor([[[0.0, 5.0, 12.5, 30.0]]]))


def test_nan_is_kept_and_not_smeared_onto_observed_values():
    x = torch.tensor([[[1.0, 2.0, float("nan"), 4.0, 5.0]]])
    out = resample_linear(x, torch.tensor([[1.0, 1.4, 1.6, 2.0, 2.6, 3.0]]))
    # 1.4: mostly observed neighbour 2 -> exactly 2 (not pulled towards 0); 1.6 and 2.0: NaN
    expected = torch.tensor([[[2.0, 2.0, float("nan"), float("nan"), 4.0, 4.0]]])
    torch.testing.assert_close(out, expected, equal_nan=True)


def test_views_keep_missing_values_and_never_sample_end_padding():
    x = _batch(batch=8, channels=1, steps=50)
    x[:, :, 10] = float("nan")  # a missing value in every series
    x[:4, :, 30:] = float("nan")  # four shorter series padded at the end
    views = SeriesViews(crop_scale=(1.0, 1.0), time_mask_ratio=0.3)
    (view,), (focal,) = views(x, num_global=1, num_focal=1, generator=torch.Generator().manual_seed(3))
    assert view.shape == (8, 1, 50)
    # full crops of the shorter series stretch 30 points to 50: no padding sampled, the gap survives
    nan_per_series = torch.isnan(view).sum(dim=(1, 2))
    assert (nan_per_series >= 1).all() and (nan_per_series <= 3).all()
    assert torch.isfinite(view[~torch.isnan(view)]).all()
    assert torch.isfinite(focal).sum() > 0.9 * focal.numel()


def test_time_mask_zeroes_one_segment_per_sample():
    x = torch.ones(5, 2, 20)
    views = SeriesViews(crop_scale=(1.0, 1.0), scale_std=0.0, jitter_std=0.0, time_mask_ratio=0.25)
    (view,), _ = views(x, num_global=1, num_focal=0, generator=torch.Generator().manual_seed(0))
    zeros = view == 0
    assert (zeros.sum(dim=2) == 5).all()
    assert torch.equal(zeros[:, 0], zeros[:, 1])  # the same segment in every channel


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"crop_scale": (0.0, 1.0)}, "crop_scale"),
        ({"jitter_std": -1.0}, "jitter_std"),
        ({"time_mask_ratio": 1.0}, "time_mask_ratio"),
        ({"output_length": 0}, "output_length"),
    ],
)
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(PriormatchError, match=match):
        SeriesViews(**kwargs)
