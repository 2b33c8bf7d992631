"""Entry points: parse `/deskhand ...`, check permission, run the handler, never raise."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlmodel import Session

from admin_commands import (  # noqa: F401  (each module registers its commands)
    abuse_cmd,
    access,
    alerts_cmd,
    audit_cmd,
    channels,
    digest_cmd,
    experiment_cmd,
    gaps_cmd,
    help_cmd,
    kb,
    kb_draft_cmd,
    outbox_cmd,
    persona,
    privacy_cmd,
    repeat_cmd,
    review_cmd,
    scope_routes,
    shadow_cmd,
    stats_cmd,
    thresholds,
    tickets_cmd,
)
from admin_commands.contracts import Caller, CommandResult
from admin_commands.parsing import CommandError, UsageError, tokenize
from admin_commands.permissions import allowed, role_of
from admin_commands.registry import REGISTRY, Command, Context
from bot.audit import record_audit
from bot.desk import DeskError
from bot.scope import ScopeError
from knowledge.errors import KnowledgeError

if TYPE_CHECKING:  # bot.app imports the core modules
    from bot.app import Deskhand

log = logging.getLogger(__name__)
ROLE_NAMES = {"admin": "admins", "staff": "staff and admins", "member": "everyone"}


def run_command(app: Deskhand, caller: Caller, text: str) -> CommandResult:
    """Run one `/deskhand` command line (everything after `/deskhand`)."""
    return _guarded(app, caller, text, None)


def run_command_form(
    app: Deskhand, caller: Caller, command: str, values: dict[str, str]
) -> CommandResult:
    """Run the command behind a submitted modal (ModalSpec.command) with its field values."""
    return _guarded(app, caller, command, dict(values or {}))


def run_press(app: Deskhand, caller: Caller, line: str) -> CommandResult:
    """Run the command a pressed CommandButton carries (its `line`), as the presser.

    The same parser, role check and audit as typing it; only commands registered as pressable
    run from a button, so a forged press can do no more than the presser could type.
    """
    return _guarded(app, caller, line, None, pressed=True)


def _guarded(
    app: Deskhand,
    caller: Caller,
    text: str,
    values: dict[str, str] | None,
    pressed: bool = False,
) -> CommandResult:
    """Turn every failure into a private result with a reason; log unexpected ones."""
    try:
        return _run(app, caller, text or "", values, pressed)
    except Exception:
        log.exception("admin command failed: %r by %s", text, caller.actor)
        return CommandResult(
            ok=False,
            title="Something went wrong",
            text="That command failed on my side and changed nothing I know of. "
            "The error is in the bot's log; try again or check `audit`.",
        )


def _run(
    app: Deskhand, caller: Caller, text: str, values: dict[str, str] | None, pressed: bool = False
) -> CommandResult:
    try:
        words = tokenize(text)
    except UsageError as exc:
        return CommandResult(ok=False, title="Bad command", text=str(exc), usage="help")
    if not words:
        words = ["help"]
    if words[0].lower() in {"-h", "--help", "?"}:
        words = ["help", *words[1:]]
    role = role_of(app, caller)
    command, args = REGISTRY.match(words)
    if pressed and (command is None or not command.pressable):
        return _not_a_button(app, caller, role, text)
    if command is None:
        return _unknown(words, role)
    if not allowed(role, command.role):
        return _refuse(app, caller, role, command, text, pressed)
    if args and args[-1].lower() in {"--help", "-h"}:
        return CommandResult(
            ok=True, title=command.name, text=_describe(command), usage=command.usage
        )
    ctx = Context(app, caller, role, command, text)
    try:
        if values is not None:
            if command.form is None:
                raise UsageError(f"`{command.name}` does not take a form.")
            return command.form(ctx, args, values)
        return command.handler(ctx, args)
    except UsageError as exc:
        return CommandResult(
            ok=False, title=f"Usage: {command.name}", text=str(exc), usage=command.usage
        )
    except (CommandError, KnowledgeError, ScopeError, DeskError) as exc:
        message = getattr(exc, "message", None) or str(exc)
        return CommandResult(ok=False, title=f"Could not run {command.name}", text=message)


def _describe(command: Command) -> str:
    lines = [command.summary, f"Usage: `/deskhand {command.usage}`"]
    lines += [f"Example: `/deskhand {e}`" for e in command.examples]
    return "\n".join(lines)


def _unknown(words: list[str], role: str) -> CommandResult:
    """Unknown command: name the family's usage lines if the first word is known."""
    family = [c for c in REGISTRY.family(words[0]) if allowed(role, c.role)]
    if family:
        return CommandResult(
            ok=False,
            title="Unknown subcommand",
            text=f"`{' '.join(words[:2])}` is not a command. Did you mean one of these?\n"
            + "\n".join(f"- `/deskhand {c.usage}`" for c in family),
            usage=" | ".join(c.usage for c in family),
        )
    return CommandResult(
        ok=False,
        title="Unknown command",
        text=f"I don't know `{words[0]}`. Run `/deskhand help` to see what you can do.",
        usage="help",
    )


def _audit_refusal(
    app: Deskhand, caller: Caller, target: str, role: str, detail: dict[str, str]
) -> None:
    """Write one refusal to the audit trail (a failing write is logged, never raised)."""
    try:
        with Session(app.engine) as session:
            record_audit(
                session, caller.actor, "refused", target, {"role": role}, detail, caller.platform
            )
            session.commit()
    except Exception:
        log.exception("could not audit a refused command")


def _not_a_button(app: Deskhand, caller: Caller, role: str, text: str) -> CommandResult:
    """A press whose command no button may run (a forged or outdated button): refused, audited."""
    _audit_refusal(app, caller, "button:command", role, {"command": text[:300], "via": "button"})
    return CommandResult(
        ok=False,
        title="Not a Deskhand button",
        text="That button does not run a command I offer as a button, so I did nothing. "
        "Type the command instead (`/deskhand help` lists what you can run).",
    )


def _refuse(
    app: Deskhand, caller: Caller, role: str, command: Command, text: str, pressed: bool = False
) -> CommandResult:
    """Say why, privately, and log the refusal in the audit trail."""
    detail = {"needs": command.role, "command": text[:300]}
    if pressed:
        detail["via"] = "button"
    _audit_refusal(app, caller, command.name, role, detail)
    return CommandResult(
        ok=False,
        title="Not allowed",
        text=f"Only {ROLE_NAMES[command.role]} can run `{command.name}`; you are "
        f"{'a ' if role == 'member' else ''}{role}. Ask an admin if you need access "
        "(`/deskhand help` lists what you can run).",
        ephemeral=True,
    )
