import numpy as np
import pytest

from priormatch.data.regimes import REGIMES, make_regime_series, make_regime_splits, regime_counts
from priormatch.errors import PriormatchError


def test_zipf_counts_by_rank_and_planted_rare_regimes():
    counts = regime_counts(1000, 8, profile="zipf", zipf_exponent=1.0, rare_regimes=2, rare_count=3)
    assert counts.sum() == 1000 and counts[-2:].tolist() == [3, 3]
    head = counts[:6]
    expected = (1000 - 6) * (1 / np.arange(1, 7)) / (1 / np.arange(1, 7)).sum()
    assert np.abs(head - expected).max() <= 2 and (np.diff(head) <= 0).all()
    assert regime_counts(60, 4, profile="uniform", zipf_exponent=1.0, rare_regimes=0, rare_count=0).tolist() == [15] * 4


def test_series_follow_the_counts_in_a_seeded_regime_order():
    data = make_regime_series(500, 64, num_regimes=6, rare_regimes=1, rare_count=2, seed=3)
    assert data.x.shape == (500, 1, 64) and data.x.dtype == np.float32 and data.y.dtype == np.int64
    assert data.class_names == tuple(REGIMES)[:6]
    by_rank = np.sort(data.class_counts())[::-1]
    expected = regime_counts(500, 6, profile="zipf", zipf_exponent=1.0, rare_regimes=1, rare_count=2)
    np.testing.assert_array_equal(by_rank, expected)
    other = make_regime_series(500, 64, num_regimes=6, rare_regimes=1, rare_count=2, seed=4)
    assert not np.array_equal(data.x, other.x)


def test_deterministic_and_z_normalised():
    a = make_regime_series(200, 64, seed=0)
    b = make_regime_series(200, 64, seed=0)
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.y, b.y)
    np.testing.assert_allclose(a.x.mean(axis=2), 0, atol=1e-5)
    np.testing.assert_allclose(a.x.std(axis=2), 1, atol=1e-4)  # mean and variance carry no label


def test_splits_long_tailed_train_balanced_test():
    splits = make_regime_splits(400, 25, 64, num_regimes=8, rare_regimes=2, rare_count=2, seed=1)
    assert splits.test.class_counts().tolist() == [25] * 8
    train_counts = splits.train.class_counts()
    assert train_counts.sum() == 400 and sorted(train_counts)[:2] == [2, 2] and train_counts.max() > 100
    assert splits.train.num_classes == splits.test.num_classes == 8


def test_regimes_are_learnable_from_the_spectrum():
    from sklearn.linear_model import LogisticRegression

    splits = make_regime_splits(800, 50, 128, num_regimes=8, zipf_exponent=0.0, rare_regimes=0, seed=0)
    features = lambda x: np.log1p(np.abs(np.fft.rfft(x[:, 0], axis=1)))  # noqa: E731
    probe = LogisticRegression(max_iter=1000).fit(features(splits.train.x), splits.train.y)
    assert probe.score(features(splits.test.x), splits.test.y) > 0.8  # chance is 0.125


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"num_regimes": 11}, "num_regimes=11"),
        ({"rare_regimes": 8}, "rare_regimes=8"),
        ({"n_series": 10, "rare_count": 5}, "n_series=10"),
        ({"profile": "pareto"}, "unknown profile"),
    ],
)
def test_bad_arguments_are_named(kwargs, match):
    arguments = {"n_series": 100, "length": 64} | kwargs
    with pytest.raises(PriormatchError, match=match):
        make_regime_series(**arguments)
