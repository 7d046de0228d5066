"""Streaming feature extraction: batching, eval/inference mode, memmap inputs, non-finite features."""

import numpy as np
import pytest
import torch
from torch import nn

from priormatch.errors import PriormatchError
from priormatch.evaluation import extract_features


class RecordingEncoder(nn.Module):
    """(B, *shape) -> (B, 2) [mean, max] per sample; records calls, batch sizes and modes."""

    def __init__(self) -> None:
        super().__init__()
        self.norm = nn.BatchNorm1d(2)
        self.batch_sizes: list[int] = []
        self.seen_training: list[bool] = []
        self.seen_inference: list[bool] = []
        self.seen_dtypes: list[torch.dtype] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.batch_sizes.append(x.shape[0])
        self.seen_training.append(self.training or self.norm.training)
        self.seen_inference.append(torch.is_inference_mode_enabled())
        self.seen_dtypes.append(x.dtype)
        flat = x.flatten(1)
        return torch.stack([flat.mean(1), flat.amax(1)], dim=1).double()


def expected(x: np.ndarray) -> np.ndarray:
    flat = x.reshape(len(x), -1).astype(np.float64)
    return np.stack([flat.mean(1), flat.max(1)], axis=1).astype(np.float32)


@pytest.mark.parametrize("shape", [(10, 3, 4, 4), (10, 2, 16)])  # images (n, C, H, W), series (n, C, T)
def test_streams_in_batches_in_eval_and_inference_mode(shape):
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float64)
    encoder = RecordingEncoder()
    features = extract_features(encoder, x, batch_size=4)
    assert features.dtype == np.float32 and features.shape == (10, 2)
    np.testing.assert_allclose(features, expected(x), rtol=1e-5, atol=1e-6)
    assert encoder.batch_sizes == [4, 4, 2]
    assert encoder.seen_training == [False] * 3 and encoder.seen_inference == [True] * 3
    assert encoder.seen_dtypes == [torch.float32] * 3


def test_restores_each_submodule_mode():
    encoder = RecordingEncoder()
    encoder.train()
    encoder.norm.eval()  # e.g. a frozen BatchNorm inside a training model
    extract_features(encoder, np.ones((3, 2), dtype=np.float32), batch_size=2)
    assert encoder.training and not encoder.norm.training
    assert encoder.seen_training == [False, False]


def test_memmap_input_matches_array(tmp_path):
    x = np.random.default_rng(1).integers(0, 255, size=(9, 1, 5, 5), dtype=np.uint8)
    stored = np.memmap(tmp_path / "x.u8", dtype=np.uint8, mode="w+", shape=x.shape)
    stored[:] = x
    stored.flush()
    mapped = np.memmap(tmp_path / "x.u8", dtype=np.uint8, mode="r", shape=x.shape)
    encoder = RecordingEncoder()
    features = extract_features(encoder, mapped, batch_size=4, transform=lambda b: b.float() / 255)
    np.testing.assert_allclose(features, expected(x / 255), rtol=1e-5)
    assert max(encoder.batch_sizes) == 4 and encoder.seen_dtypes == [torch.float32] * 3


def test_transform_gets_raw_batch_and_plain_functions_work():
    seen = []

    def transform(batch: torch.Tensor) -> torch.Tensor:
        seen.append(batch.dtype)
        return batch.float() * 2

    x = np.arange(12, dtype=np.int16).reshape(6, 2)
    features = extract_features(lambda b: b[:, :1], x, batch_size=5, transform=transform, progress=False)
    np.testing.assert_array_equal(features[:, 0], 2 * x[:, 0])
    assert seen == [torch.int16, torch.int16]


def test_nan_features_name_first_bad_sample_and_restore_mode():
    x = np.zeros((8, 3), dtype=np.float32)
    x[5, 1] = np.nan
    x[7, 0] = np.nan
    encoder = RecordingEncoder().train()
    with pytest.raises(PriormatchError, match=r"sample 5 .*NaN inputs.*diverged") as info:
        extract_features(encoder, x, batch_size=3)
    assert "\n" not in str(info.value)
    assert encoder.training


@pytest.mark.parametrize(
    "encoder, x, batch_size, culprit",
    [
        (lambda b: b, np.zeros((4, 2, 3)), 2, r"\(batch, D\)"),
        (lambda b: b[:, 0], np.zeros((4, 2)), 2, r"\(batch, D\)"),
        (lambda b: b, np.zeros((4, 2)), 0, "batch_size"),
        (lambda b: b, np.zeros((0, 2)), 2, "non-empty"),
        (lambda b: b, [[1.0, 2.0]], 2, "NumPy"),
    ],
)
def test_bad_inputs(encoder, x, batch_size, culprit):
    with pytest.raises(PriormatchError, match=culprit):
        extract_features(encoder, x, batch_size=batch_size)
