"""Prototype galleries: for the most used prototypes, the samples each one is most sure about.

Panels sit side by side (e.g. shuffled vs class-imbalanced batches), the analogue of the paper's
prototype figure. Each row is one prototype: its share of the samples and the majority label of
the shown samples; each column one sample, most probable first. Images (C, H, W) are drawn as
pictures, series (C, T) as line plots (one line per channel, NaN left as gaps).
"""

from __future__ import annotations

import numpy as np

from priormatch.diagnose.figures.png import new_figure, to_png
from priormatch.diagnose.prototypes import PrototypeAnalysis


def gallery_figure(panels: list[tuple[str, PrototypeAnalysis]], *, prototypes: int = 6, images: int = 8) -> bytes:
    cell = 0.62
    figure = new_figure(cell * images * len(panels) + 1.2 * len(panels), cell * prototypes + 0.9)
    outer = figure.add_gridspec(1, len(panels), wspace=0.12)
    for column, (title, analysis) in enumerate(panels):
        inner = outer[0, column].subgridspec(prototypes, images, wspace=0.04, hspace=0.08)
        chosen = analysis.most_used(prototypes)
        counts = analysis.hard_counts
        for row, prototype in enumerate(chosen):
            top = analysis.top_images(int(prototype), images)
            labels = analysis.labels[top]
            majority = int(np.bincount(labels).argmax())
            for position, image in enumerate(top):
                axes = figure.add_subplot(inner[row, position])
                draw_sample(axes, analysis.images[image])
                axes.set_xticks([])
                axes.set_yticks([])
                if position == 0:
                    share = 100 * counts[prototype] / len(analysis.labels)
                    name = analysis.class_names[majority][:10]
                    axes.set_ylabel(f"#{prototype} {share:.0f}%\n{name}", fontsize=6, rotation=0, ha="right", va="center")
                if row == 0 and position == images // 2:
                    axes.set_title(title, fontsize=9)
    return to_png(figure)


def draw_sample(axes, sample: np.ndarray) -> None:
    """An image (C, H, W) as a picture, a series (C, T) as one line per channel."""
    if sample.ndim == 2:
        axes.plot(sample.T, linewidth=0.6)
        axes.margins(x=0)
    else:
        axes.imshow(sample[0] if sample.shape[0] == 1 else sample.transpose(1, 2, 0), cmap="gray", vmin=0, vmax=1)
