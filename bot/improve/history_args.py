"""`deskhand eval history`'s arguments, apart from the replay: `deskhand --help` loads no graph."""

from __future__ import annotations

import argparse


def add_history_arguments(p: argparse.ArgumentParser) -> None:
    """`deskhand eval history [--json] [--answer X] [--clarify Y]` (a candidate's thresholds)."""
    p.add_argument("--json", action="store_true")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--answer", type=float, help="replay with this answer threshold instead")
    p.add_argument("--clarify", type=float, help="replay with this clarify threshold instead")
    p.add_argument(
        "--kb-drafts",
        default="",
        help="replay with these pending KB candidates served (ids, comma-separated)",
    )
