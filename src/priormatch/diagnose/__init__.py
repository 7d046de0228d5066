"""``priormatch diagnose``: the paper's experiments as one command, with an HTML/Markdown report.

config (presets) -> experiments (cells) -> planner (run configs, hashed) -> cache + executor
(parallel workers) -> results + statistics -> sections (tables, figures, verdicts) -> writers.
"""

from priormatch.diagnose.config import DiagnoseConfig, load_diagnose_config
from priormatch.diagnose.pipeline import run_diagnose
from priormatch.diagnose.prototypes import PrototypeAnalysis, analyse_run

__all__ = ["DiagnoseConfig", "PrototypeAnalysis", "analyse_run", "load_diagnose_config", "run_diagnose"]
