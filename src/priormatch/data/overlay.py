"""The overlay toy (Assran et al., ICLR 2023, sec. 5.1 analogue): clothing with a digit on top.

Each Fashion-MNIST image gets one scikit-learn handwritten digit (8x8, upscaled bilinearly to
:data:`DIGIT_SIDE` pixels) stamped at its centre. The stamp *inverts* the clothing pixels under
the digit's strokes (``|clothing - digit|``), so the digit stays visible on dark background and on
bright garments alike. Two label sets share the same images:

* ``clothing`` (the data set's ``y``): the 10 Fashion-MNIST classes, exactly balanced;
* ``digit``: which digit was stamped. In the *train* split the digit class follows a power law,
  ``P(rank r) ~ (r + 1) ** -DIGIT_EXPONENT`` over a seeded digit order (Zipf with exponent 1: the
  head digit is 10x as frequent as the tail digit); in the *test* split every digit is equally
  likely, so the digit accuracy weighs rare and frequent digits alike.

Train overlays use digit images of the digits' train split, test overlays those of its test split
(the same stratified 80/20 split as the ``digits`` data set), so no digit image is shared. Every
draw is seeded (:data:`OVERLAY_SEED`): the data set is a pure function of the Fashion-MNIST files.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F

from priormatch.data.arrays import DatasetSplits, LabeledArrays, validate_arrays
from priormatch.data.digits import load_digits
from priormatch.data.fashion_mnist import load_fashion_mnist

DIGIT_SIDE = 16  # side of the stamped digit in pixels (the clothing images are 28x28)
DIGIT_EXPONENT = 1.0  # power-law exponent of the train split's digit classes (1 = Zipf, ratio 10)
OVERLAY_SEED = 0  # seeds the digit class order and every draw
LABEL_SETS = ("clothing", "digit")
HOW_TO_GET = "built from Fashion-MNIST (apt-get install -y dataset-fashion-mnist, or data.path=DIR) and scikit-learn digits"


def digit_class_probabilities(num_classes: int, exponent: float, order: np.ndarray) -> np.ndarray:
    """(num_classes,) probability of each digit class: class ``order[r]`` gets ``(r + 1) ** -exponent``."""
    weights = np.empty(num_classes)
    weights[order] = (np.arange(num_classes) + 1.0) ** -exponent
    return weights / weights.sum()


def upscale_digits(images: np.ndarray, side: int) -> np.ndarray:
    """(n, 1, side, side) bilinear upscaling of (n, 1, 8, 8) digits in [0, 1]."""
    tensor = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))
    return F.interpolate(tensor, size=(side, side), mode="bilinear", align_corners=False).clamp(0, 1).numpy()


def stamp(clothing: np.ndarray, digits: np.ndarray) -> np.ndarray:
    """(n, 1, H, W) clothing with (n, 1, s, s) digits inverting the pixels under their strokes, centred."""
    out = clothing.copy()
    side, height, width = digits.shape[-1], clothing.shape[-2], clothing.shape[-1]
    top, left = (height - side) // 2, (width - side) // 2
    region = out[:, :, top : top + side, left : left + side]
    out[:, :, top : top + side, left : left + side] = np.abs(region - digits)
    return out


def _overlay_split(
    clothing: LabeledArrays, digits: LabeledArrays, probabilities: np.ndarray, rng: np.random.Generator, source: str
) -> tuple[LabeledArrays, LabeledArrays]:
    """(clothing-labelled, digit-labelled) overlays of one split; the two share their images."""
    digit_labels = rng.choice(len(probabilities), size=len(clothing), p=probabilities)
    chosen = np.empty(len(clothing), dtype=np.int64)
    for digit in range(len(probabilities)):
        rows = np.flatnonzero(digit_labels == digit)
        chosen[rows] = rng.choice(np.flatnonzero(digits.y == digit), size=len(rows), replace=True)
    x = stamp(clothing.x, upscale_digits(digits.x, DIGIT_SIDE)[chosen])
    x.setflags(write=False)
    by_clothing = validate_arrays(LabeledArrays(x, clothing.y, clothing.class_names), f"{source} (clothing)")
    by_digit = validate_arrays(LabeledArrays(x, digit_labels.astype(np.int64), digits.class_names), f"{source} (digit)")
    return by_clothing, by_digit


@lru_cache(maxsize=1)
def overlay_label_sets(path: str | None = None) -> dict[str, DatasetSplits]:
    """{"clothing": splits, "digit": splits}: the same overlay images under each label set.

    ``path`` is the Fashion-MNIST directory (default: where the Debian package installs it).
    Cached per process (training, evaluation and the digit evaluation of a run all need it); the
    images are read-only, so the cached arrays cannot be changed by a caller.
    """
    fashion, digits = load_fashion_mnist(path), load_digits()
    rng = np.random.default_rng(OVERLAY_SEED)
    order = rng.permutation(digits.num_classes)
    train_p = digit_class_probabilities(digits.num_classes, DIGIT_EXPONENT, order)
    test_p = np.full(digits.num_classes, 1.0 / digits.num_classes)
    train = _overlay_split(fashion.train, digits.train, train_p, rng, "overlay (train)")
    test = _overlay_split(fashion.test, digits.test, test_p, rng, "overlay (test)")
    return {name: DatasetSplits("overlay", train[i], test[i]) for i, name in enumerate(LABEL_SETS)}


def load_overlay(path: str | None = None) -> DatasetSplits:
    """The overlay data set labelled by clothing class (the ``overlay`` entry of the data registry)."""
    return overlay_label_sets(path)["clothing"]
