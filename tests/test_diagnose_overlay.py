"""The overlay toy data set: stamping, the digit power law, two label sets over the same images."""

import numpy as np
import pytest

from priormatch.data import DATASETS, fashion_mnist
from priormatch.data.overlay import (
    DIGIT_EXPONENT,
    DIGIT_SIDE,
    digit_class_probabilities,
    overlay_label_sets,
    stamp,
    upscale_digits,
)


def test_digit_probabilities_follow_the_power_law_over_the_order():
    order = np.array([3, 0, 1, 2])
    p = digit_class_probabilities(4, 1.0, order)
    assert p.sum() == pytest.approx(1.0)
    assert p[3] / p[2] == pytest.approx(4.0)  # rank 0 vs rank 3 under exponent 1
    assert np.argmax(p) == 3


def test_stamp_inverts_the_centre_under_the_strokes():
    clothing = np.full((2, 1, 28, 28), 0.75, dtype=np.float32)
    digits = np.zeros((2, 1, 16, 16), dtype=np.float32)
    digits[:, :, 8, 8] = 1.0
    out = stamp(clothing, digits)
    assert out[0, 0, 6 + 8, 6 + 8] == pytest.approx(0.25)  # |0.75 - 1|
    assert out[0, 0, 0, 0] == pytest.approx(0.75)
    assert clothing[0, 0, 14, 14] == pytest.approx(0.75)  # the input is not modified


def test_upscaled_digits_keep_range_and_size():
    images = np.random.default_rng(0).random((3, 1, 8, 8)).astype(np.float32)
    up = upscale_digits(images, DIGIT_SIDE)
    assert up.shape == (3, 1, DIGIT_SIDE, DIGIT_SIDE) and up.min() >= 0 and up.max() <= 1


def test_overlay_is_registered():
    assert DATASETS["overlay"].kind == "image"


@pytest.mark.skipif(not fashion_mnist.is_available(), reason="Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")
def test_label_sets_share_images_clothing_balanced_digits_power_law():
    sets = overlay_label_sets()
    clothing, digit = sets["clothing"], sets["digit"]
    assert clothing.train.x is digit.train.x and not clothing.train.x.flags.writeable
    assert np.all(clothing.train.class_counts() == 6000)
    counts = np.sort(digit.train.class_counts())[::-1]
    assert counts[0] / counts[-1] == pytest.approx(10**DIGIT_EXPONENT, rel=0.15)
    test_counts = digit.test.class_counts()
    assert test_counts.max() / test_counts.min() < 1.3  # the test digits are uniform
