"""Prototype analyses of finished runs, computed once per run directory within a report."""

from __future__ import annotations

from pathlib import Path

from priormatch.diagnose.prototypes import PrototypeAnalysis, analyse_run


class PrototypeCache:
    def __init__(self, max_images: int) -> None:
        self.max_images = max_images
        self._analyses: dict[Path, PrototypeAnalysis] = {}

    def get(self, run_dir: Path) -> PrototypeAnalysis:
        if run_dir not in self._analyses:
            self._analyses[run_dir] = analyse_run(run_dir, max_images=self.max_images)
        return self._analyses[run_dir]
