"""The names of the shipped diagnose presets (``presets/<name>.yaml``), importable without loading
the diagnose machinery (the CLI parser lists them)."""

PRESETS = ("smoke", "quick", "full", "series")
DEFAULT_PRESET = "quick"
