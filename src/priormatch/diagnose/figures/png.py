"""Render a matplotlib figure to PNG bytes with the non-interactive Agg backend."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)
from matplotlib.figure import Figure  # noqa: E402

DPI = 110


def new_figure(width: float, height: float) -> Figure:
    return plt.figure(figsize=(width, height))


def to_png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()
