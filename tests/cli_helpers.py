"""Helpers for tests that call ``priormatch.cli.main`` in process."""

from __future__ import annotations

from priormatch.cli import main


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of ``priormatch ARGV`` (arguments converted to str)."""
    code = main([str(arg) for arg in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(code: int, err: str, *fragments: str) -> None:
    """Exit status 2 and exactly one ``priormatch: error:`` line on stderr containing ``fragments``."""
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("priormatch: error: "), err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


# A tiny series model for CLI runs that only need to train a step or two.
SMALL_SERIES_MODEL = [
    "method.name=simclr",
    "method.projection_hidden=16",
    "method.projection_dim=8",
    "encoder.depth=1",
    "encoder.hidden=8",
    "encoder.embed_dim=16",
]
