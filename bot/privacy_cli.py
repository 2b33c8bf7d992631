"""`deskhand forget | export | purge`: erasure, access requests and retention from the shell."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def _app() -> Any:
    from bot.cli import _app as load

    return load()


def cmd_forget(args: argparse.Namespace) -> int:
    """Erase one member everywhere the bot keeps data (audited with counts)."""
    from bot.privacy.erasure import forget_member

    app = _app()
    counts = forget_member(app.engine, args.member, actor="cli", via="cli")
    sys.stdout.write(json.dumps({"member": args.member, "erased": counts}) + "\n")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Everything about one member as JSON, to stdout or a file (access requests)."""
    from bot.privacy.erasure import export_member

    data = json.dumps(export_member(_app().engine, args.member), ensure_ascii=False, indent=2)
    if args.out:
        Path(args.out).write_text(data + "\n")
    else:
        sys.stdout.write(data + "\n")
    return 0


def cmd_purge(args: argparse.Namespace) -> int:
    """Erase conversations older than retention_days (or --days); what the daily loop runs."""
    from bot.privacy.erasure import purge_older_than

    app = _app()
    days = args.days if args.days is not None else int(app.settings.get("retention_days") or 0)
    if days <= 0:
        sys.stderr.write("retention_days is 0 (keep forever): nothing purged. Use --days N.\n")
        return 0
    counts = purge_older_than(app.engine, days, actor="cli")
    sys.stdout.write(json.dumps({"days": days, "erased": counts}) + "\n")
    return 0


def add_commands(sub: Any) -> None:
    """Register forget, export and purge on the `deskhand` parser."""
    p = sub.add_parser("forget", help="erase everything about one member (GDPR erasure)")
    p.add_argument("--member", required=True, help="user id, or platform:user_id")
    p.set_defaults(func=cmd_forget)
    p = sub.add_parser("export", help="everything about one member as JSON (access request)")
    p.add_argument("--member", required=True, help="user id, or platform:user_id")
    p.add_argument("--out", help="write to this file instead of stdout")
    p.set_defaults(func=cmd_export)
    p = sub.add_parser("purge", help="erase conversations older than retention_days")
    p.add_argument("--days", type=int, help="override the retention_days setting")
    p.set_defaults(func=cmd_purge)
