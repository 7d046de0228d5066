"""Array layouts of user files: which axis is which, stated explicitly and checked, never guessed.

A layout names the axes of a stored array, the sample axis first: series ``NT`` (univariate),
``NCT`` (the aeon/sktime layout, priormatch's own) or ``NTC`` (channels last); images ``NHW``
(grey), ``NCHW`` (priormatch's own) or ``NHWC`` (channels last, as PIL / TensorFlow write them).
:func:`to_standard` turns any of them into priormatch's ``(n, C, T)`` / ``(n, C, H, W)`` as a view
(a transpose or an added channel axis, so a memory map stays a memory map).

Without a layout (``data.layout`` unset), the standard layout for the array's number of axes is
assumed (``NT`` / ``NCT``, ``NHW`` / ``NCHW``) and, like a given layout, checked by
:func:`check_plausible`: a series with more channels than timepoints, or an image with more than
:data:`MAX_PLAIN_CHANNELS` channels and more channels than pixels along a side, is an error that
names the layout to set. ``data.check_layout=false`` accepts such a shape when it is really meant.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from priormatch.data.arrays import Kind
from priormatch.errors import PriormatchError

SERIES_LAYOUTS = ("NT", "NCT", "NTC")
IMAGE_LAYOUTS = ("NHW", "NCHW", "NHWC")
LAYOUTS = SERIES_LAYOUTS + IMAGE_LAYOUTS
STANDARD_LAYOUTS: dict[Kind, dict[int, str]] = {"series": {2: "NT", 3: "NCT"}, "image": {3: "NHW", 4: "NCHW"}}
MAX_PLAIN_CHANNELS = 4  # grey, RGB, RGBA: more image channels than this must also fit the image sides
AXIS_NAMES = {"N": "n", "C": "channels", "T": "timepoints", "H": "height", "W": "width"}


@dataclass(frozen=True)
class LayoutRequest:
    """How to read a user array: its layout (None: the standard one) and whether to check it.

    ``layout_setting`` and ``check_off`` are the words an error uses for the fix, e.g.
    ``data.layout`` / ``data.check_layout=false`` on the CLI, ``layout=`` / ``check_layout=False``
    for :class:`priormatch.SSLEncoder`.
    """

    layout: str | None = None
    check: bool = True
    layout_setting: str = "data.layout"
    check_off: str = "data.check_layout=false"

    def __post_init__(self) -> None:
        if self.layout is not None and self.layout not in LAYOUTS:
            raise PriormatchError(
                f"{self.layout_setting}={self.layout!r} is not a layout; use one of {', '.join(LAYOUTS)} "
                "(N samples, C channels, T timepoints, H height, W width)"
            )

    @property
    def kind(self) -> Kind | None:
        """The kind the layout implies, or None without a layout."""
        return layout_kind(self.layout) if self.layout is not None else None


def layout_kind(layout: str) -> Kind:
    """'series' for NT / NCT / NTC, 'image' for NHW / NCHW / NHWC."""
    return "series" if layout in SERIES_LAYOUTS else "image"


def resolve_layout(shape: tuple[int, ...], kind: Kind, request: LayoutRequest, source: str) -> str:
    """The layout of an array of ``shape`` holding ``kind``: the requested one (its number of axes
    checked) or the standard one for that many axes."""
    if request.layout is None:
        standard = STANDARD_LAYOUTS[kind].get(len(shape))
        if standard is None:
            expected = " or ".join(f"{len(name)}-D {name}" for name in STANDARD_LAYOUTS[kind].values())
            raise PriormatchError(f"{source} has shape {shape}; {kind}s are {expected} arrays")
        return standard
    if layout_kind(request.layout) != kind:
        raise PriormatchError(
            f"{source}: {request.layout_setting}={request.layout} is a {layout_kind(request.layout)} layout but the data "
            f"are {kind}s; use one of {', '.join(SERIES_LAYOUTS if kind == 'series' else IMAGE_LAYOUTS)}"
        )
    if len(request.layout) != len(shape):
        raise PriormatchError(
            f"{source} has shape {shape} ({len(shape)} axes) but {request.layout_setting}={request.layout} has "
            f"{len(request.layout)}; set the layout of this array"
        )
    return request.layout


def to_standard(x: np.ndarray, layout: str) -> np.ndarray:
    """(n, C, T) series or (n, C, H, W) images from ``x`` stored in ``layout``: a view of ``x``."""
    if layout in ("NT", "NHW"):
        return x[:, None]
    if layout == "NTC":
        return np.transpose(x, (0, 2, 1))
    if layout == "NHWC":
        return np.transpose(x, (0, 3, 1, 2))
    return x


def check_plausible(sample_shape: tuple[int, ...], layout: str, request: LayoutRequest, source: str) -> None:
    """Raise when ``layout`` reads the array into an implausible sample shape (C, T) / (C, H, W).

    Series: more channels than timepoints. Images: more than :data:`MAX_PLAIN_CHANNELS` channels and
    more channels than pixels along the shorter side. Skipped when ``request.check`` is false.
    """
    if not request.check or layout in ("NT", "NHW"):  # one channel: nothing to mistake
        return
    channels, sides = sample_shape[0], sample_shape[1:]
    if len(sides) == 1 and channels > sides[0]:
        problem = f"{channels} channels of {sides[0]} timepoints"
        other = "NCT" if layout == "NTC" else "NTC"
    elif len(sides) == 2 and channels > max(MAX_PLAIN_CHANNELS, min(sides)):
        problem = f"{channels}-channel images of {sides[0]}x{sides[1]}"
        other = "NCHW" if layout == "NHWC" else "NHWC"
    else:
        return
    stored = stored_axes(layout, sample_shape)
    raise PriormatchError(
        f"{source}: read as {layout} {stored}, the data are {problem}, which is implausible; if the axes are "
        f"{axes_text(other)} set {request.layout_setting}={other}, or if the shape is right set {request.check_off}"
    )


def axes_text(layout: str) -> str:
    """'(n, timepoints, channels)' for NTC."""
    return "(" + ", ".join(AXIS_NAMES[axis] for axis in layout) + ")"


def stored_axes(layout: str, sample_shape: tuple[int, ...]) -> str:
    """The stored per-sample axes with their sizes, e.g. '(n, T=128, C=3)' for NTC and (C, T) = (3, 128)."""
    standard = "CT" if layout_kind(layout) == "series" else "CHW"
    sizes = dict(zip(standard, sample_shape))
    return "(" + ", ".join(["n"] + [f"{axis}={sizes[axis]}" for axis in layout[1:]]) + ")"


def interpretation(layout: str, sample_shape: tuple[int, ...]) -> str:
    """One phrase for the start of a run: 'stored NTC (n, T=128, C=3), read as (n, C=3, T=128)'."""
    standard = "NCT" if layout_kind(layout) == "series" else "NCHW"
    return f"stored {layout} {stored_axes(layout, sample_shape)}, read as {stored_axes(standard, sample_shape)}"
