"""CLI start-up stays light (issue #14, item 5): parsing arguments imports no heavy library.

Each check runs a fresh interpreter, since this test process has long imported torch.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("torch", "sklearn", "matplotlib", "pandas", "scipy", "omegaconf")
BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def heavy_modules_after(code: str) -> list[str]:
    """The HEAVY modules in ``sys.modules`` after a fresh interpreter runs ``code``."""
    probe = f"import json, sys\n{code}\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_importing_the_cli_imports_no_heavy_library():
    assert heavy_modules_after("import priormatch.cli") == []


def test_help_and_argument_errors_import_no_heavy_library():
    code = (
        "import contextlib, io\n"
        "from priormatch.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):\n"
        "    statuses = [main(['--help']), main(['train', '--help']), main(['diagnose', '--help']), main(['train', '--nproc', 'x'])]\n"
        "assert statuses == [0, 0, 0, 2], statuses"
    )
    assert heavy_modules_after(code) == []


def test_the_package_still_exports_its_api_lazily():
    import priormatch

    assert priormatch.SSLEncoder.__name__ == "SSLEncoder" and callable(priormatch.pmsn_loss)
    assert all(hasattr(priormatch, name) for name in priormatch.__all__)
    with pytest.raises(AttributeError, match="no attribute 'not_there'"):
        priormatch.not_there  # noqa: B018


def test_startup_benchmark_prints_the_ratio():
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "cli_startup.py"), "--repeats", "1"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "| python -m priormatch --help |" in done.stdout and "ratio to python -c pass" in done.stdout
