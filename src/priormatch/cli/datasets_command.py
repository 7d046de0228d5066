"""``priormatch datasets``: which data sets exist, which are installed, how to get the others."""

from __future__ import annotations

import argparse

from priormatch.data import dataset_status


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("datasets", help="list data sets, whether each is available here, and how to get it")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    rows = dataset_status()
    width = max(len(row[0]) for row in rows)
    for name, available, how_to_get in rows:
        state = "available" if available else "missing"
        hint = "" if available else f"  -> {how_to_get}"
        print(f"{name:<{width}}  {state:<9}{hint}")
    return 0
