"""``priormatch diagnose``: the paper's experiments as one command, with an HTML/Markdown report.

config (presets) -> experiments (one module each: cells, tables, figures, verdicts, section) ->
planner (run configs, hashed) -> cache + executor (parallel workers) -> results + statistics ->
each experiment's section (+ the shared sections/) -> writers.
"""

from importlib import import_module
from typing import Any

# Public name -> module that defines it, imported on first use (PEP 562): importing a submodule
# such as priormatch.diagnose.preset_names (the CLI parser does) then loads nothing heavy.
_EXPORTS = {
    "DiagnoseConfig": "priormatch.diagnose.config",
    "load_diagnose_config": "priormatch.diagnose.config",
    "run_diagnose": "priormatch.diagnose.pipeline",
    "PrototypeAnalysis": "priormatch.diagnose.prototypes",
    "analyse_run": "priormatch.diagnose.prototypes",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name]), name)
