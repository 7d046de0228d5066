"""``priormatch datasets``: which data sets exist, which are installed, how to get the others."""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("datasets", help="list data sets, whether each is available here, and how to get it")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from priormatch.data import DATASETS, dataset_status, family_status

    rows, families = dataset_status(), family_status()
    width = max(len(row[0]) for row in rows + families)
    for name, available, how_to_get in rows:
        user_file = DATASETS[name].user_file
        state = "your file" if user_file else ("available" if available else "missing")
        hint = "" if available and not user_file else f"  -> {how_to_get}"
        print(f"{name:<{width}}  {state:<9}{hint}")
    for pattern, available, detail in families:  # detail: what is there, or how to get it
        state = "available" if available else "missing"
        print(f"{pattern:<{width}}  {state:<9}  {detail if available else '-> ' + detail}")
    return 0
