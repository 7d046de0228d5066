"""Prototype analyses of finished runs, computed once per run directory within a report."""

from __future__ import annotations

from pathlib import Path

from priormatch.diagnose.prototypes import PrototypeAnalysis, analyse_run


class PrototypeCache:
    def __init__(self, max_images: int) -> None:
        self.max_images = max_images
        self._analyses: dict[tuple[Path, bool], PrototypeAnalysis] = {}

    def get(self, run_dir: Path, *, held_out: bool = False) -> PrototypeAnalysis:
        """The run's analysis on pretraining images, or on held-out images of the same class profile."""
        key = (run_dir, held_out)
        if key not in self._analyses:
            self._analyses[key] = analyse_run(run_dir, max_images=self.max_images, held_out=held_out)
        return self._analyses[key]
