"""Fashion-MNIST from its four local IDX files (Xiao et al. 2017; MIT licence, Zalando).

The Debian package ``dataset-fashion-mnist`` installs them in :data:`DEFAULT_DIR`. Train:
60,000 images, test: 10,000, 28x28 grey, 10 exactly balanced classes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from priormatch.data.arrays import DatasetSplits, LabeledArrays, check_no_empty_class, validate_arrays
from priormatch.data.idx import read_idx
from priormatch.errors import PriormatchError

DEFAULT_DIR = "/usr/share/datasets/fashion-mnist"
HOW_TO_GET = f"apt-get install -y dataset-fashion-mnist (files in {DEFAULT_DIR}), or set data.path=DIR"

CLASS_NAMES: tuple[str, ...] = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

# split -> (images file stem, labels file stem); each may also carry a ".gz" suffix.
FILE_STEMS: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

IMAGE_SIDE = 28


def find_files(directory: str | Path) -> dict[str, Path | None]:
    """Map each of the four file stems to its path in ``directory`` (plain or ``.gz``), or None."""
    directory = Path(directory)
    found: dict[str, Path | None] = {}
    for stems in FILE_STEMS.values():
        for stem in stems:
            candidates = [directory / stem, directory / f"{stem}.gz"]
            found[stem] = next((c for c in candidates if c.is_file()), None)
    return found


def is_available(path: str | None = None) -> bool:
    """Whether all four files are present in ``path`` (default :data:`DEFAULT_DIR`)."""
    return all(p is not None for p in find_files(path or DEFAULT_DIR).values())


def load_fashion_mnist(path: str | None = None) -> DatasetSplits:
    """Load Fashion-MNIST from the directory ``path`` (default :data:`DEFAULT_DIR`).

    Returns images (n, 1, 28, 28) float32 in [0, 1] (uint8 / 255) and int64 labels 0..9.
    """
    directory = Path(path or DEFAULT_DIR)
    files = find_files(directory)
    missing = [stem for stem, found in files.items() if found is None]
    if missing:
        raise PriormatchError(f"Fashion-MNIST: {len(missing)} of 4 files missing in {directory} ({', '.join(missing)}[.gz]); {HOW_TO_GET}")
    splits = {
        split: _load_split(files[images_stem], files[labels_stem])  # type: ignore[arg-type]
        for split, (images_stem, labels_stem) in FILE_STEMS.items()
    }
    return DatasetSplits("fashion_mnist", splits["train"], splits["test"])


def _load_split(images_path: Path, labels_path: Path) -> LabeledArrays:
    """One split: (n, 1, 28, 28) float32 images in [0, 1] with (n,) labels, validated."""
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.dtype != np.uint8 or images.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE):
        raise PriormatchError(
            f"{images_path}: expected uint8 images of shape (n, 28, 28), got {images.dtype} {images.shape}; "
            "this is not a Fashion-MNIST images file"
        )
    if labels.ndim != 1 or len(labels) != len(images):
        raise PriormatchError(
            f"{labels_path}: expected {len(images)} labels to match {images_path.name}, got shape "
            f"{labels.shape}; use the labels file of the same split"
        )
    x = (images.astype(np.float32) / 255.0)[:, None]
    arrays = validate_arrays(LabeledArrays(x, labels.astype(np.int64), CLASS_NAMES), str(labels_path))
    check_no_empty_class(arrays, str(labels_path))
    return arrays
