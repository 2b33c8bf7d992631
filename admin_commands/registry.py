"""The command table: one entry per subcommand with its usage line, role and handlers."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, col, select

from admin_commands.contracts import Caller, CommandResult
from bot.audit import record_audit
from bot.models import AuditEntry

if TYPE_CHECKING:  # bot.app imports the core modules
    from bot.app import Deskhand

Handler = Callable[["Context", list[str]], CommandResult]
FormHandler = Callable[["Context", list[str], dict[str, str]], CommandResult]


@dataclass
class Context:
    """Everything a handler needs: the app, who called, their role and the matched command."""

    app: Deskhand
    caller: Caller
    role: str
    command: Command
    line: str

    @property
    def actor(self) -> str:
        """The caller as written in the audit log."""
        return self.caller.actor

    def audit(self, action: str, target: str, before: Any, after: Any) -> int:
        """Record one change (before → after) and return its audit id."""
        with Session(self.app.engine) as session:
            entry = record_audit(
                session, self.actor, action, target, before, after, self.caller.platform
            )
            session.commit()
            session.refresh(entry)
            return entry.id or 0

    def set_setting(self, key: str, value: Any) -> tuple[Any, int]:
        """Change a runtime setting through SettingsStore (which audits it); (before, audit id)."""
        before = self.app.settings.set(key, value, actor=self.actor, platform=self.caller.platform)
        return before, self.last_audit(f"set {key}")

    def last_audit(self, action_prefix: str) -> int:
        """Id of this caller's latest audit entry whose action starts with `action_prefix`."""
        with Session(self.app.engine) as session:
            stmt = (
                select(AuditEntry.id)
                .where(col(AuditEntry.action).startswith(action_prefix))
                .where(AuditEntry.actor == self.actor)
                .order_by(col(AuditEntry.id).desc())
            )
            return session.exec(stmt).first() or 0

    def ok(self, title: str, text: str, **kw: Any) -> CommandResult:
        """A successful result."""
        return CommandResult(ok=True, title=title, text=text, **kw)


@dataclass(frozen=True)
class Command:
    """One subcommand: words that select it, usage, minimum role, examples and handlers."""

    path: tuple[str, ...]
    usage: str
    summary: str
    role: str
    handler: Handler
    examples: tuple[str, ...] = ()
    form: FormHandler | None = None
    family: str = ""
    pressable: bool = False  # may run from a CommandButton (still with the presser's role)

    @property
    def name(self) -> str:
        """The words that select the command, e.g. "kb add"."""
        return " ".join(self.path)


@dataclass
class Registry:
    """All commands, in the order they are listed in help."""

    commands: list[Command] = field(default_factory=list)

    def add(self, command: Command) -> None:
        """Register a command; clashing paths are a programming error."""
        if any(c.path == command.path for c in self.commands):
            raise ValueError(f"duplicate command {command.name!r}")
        self.commands.append(command)

    def match(self, words: list[str]) -> tuple[Command | None, list[str]]:
        """The command whose path is the longest prefix of `words`, and the remaining args."""
        lowered = [w.lower() for w in words]
        best: Command | None = None
        for command in self.commands:
            n = len(command.path)
            if tuple(lowered[:n]) == command.path and (best is None or n > len(best.path)):
                best = command
        if best is None:
            return None, words
        return best, words[len(best.path) :]

    def family(self, word: str) -> list[Command]:
        """Commands whose first word is `word` (for usage on unknown subcommands)."""
        return [c for c in self.commands if c.path[0] == word.lower()]


REGISTRY = Registry()


def command(
    path: str,
    usage: str,
    summary: str,
    role: str = "admin",
    examples: tuple[str, ...] = (),
    family: str = "",
    pressable: bool = False,
) -> Callable[[Handler], Handler]:
    """Register a handler under `path` (e.g. "kb add"); `pressable` lets a button run it."""

    def wrap(handler: Handler) -> Handler:
        words = tuple(path.split())
        REGISTRY.add(
            Command(
                words,
                usage,
                summary,
                role,
                handler,
                examples,
                family=family or words[0],
                pressable=pressable,
            )
        )
        return handler

    return wrap


def form_for(path: str) -> Callable[[FormHandler], FormHandler]:
    """Attach the modal-submit handler of an already registered command."""

    def wrap(handler: FormHandler) -> FormHandler:
        words = tuple(path.split())
        for i, existing in enumerate(REGISTRY.commands):
            if existing.path == words:
                REGISTRY.commands[i] = Command(
                    existing.path,
                    existing.usage,
                    existing.summary,
                    existing.role,
                    existing.handler,
                    existing.examples,
                    handler,
                    existing.family,
                    existing.pressable,
                )
                return handler
        raise ValueError(f"no command {path!r} to attach a form to")

    return wrap


def dumps(value: Any) -> str:
    """Compact JSON for audit display."""
    return json.dumps(value, default=str, ensure_ascii=False)
