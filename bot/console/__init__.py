"""The console adapter: a local help channel and a simulated staff channel in the terminal."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from bot.contracts import IncomingMessage, Member, Reply
from bot.desk import DeskError, ticket_view

HELP = """Type a question as a community member. Demo commands:
  /new              start a new thread (a new conversation)
  /pick N           pick clarifying option N        /human   ask for a person
  /helpful          mark the last answer helpful    /nothelpful   not helpful
  /staff TEXT       reply as staff in the open ticket (start with // for an internal note)
  /claim  /resolve  /handback                       staff actions on the open ticket
  /rate N           rate the resolved ticket 1-5
  /deskhand ...     admin commands (you are admin here), e.g. /deskhand help
  /quit"""


@dataclass
class ConsoleSession:
    """State of one demo session: the current thread and the last reply."""

    app: Any
    console: Console = field(default_factory=Console)
    user: Member = field(default_factory=lambda: Member("demo-user", "You"))
    staff: Member = field(default_factory=lambda: Member("demo-staff", "Sam (staff)"))
    _threads: Any = field(default_factory=lambda: itertools.count(1))
    thread: str = ""
    last: Reply | None = None
    ticket_id: int | None = None

    def __post_init__(self) -> None:
        self.thread = f"t{next(self._threads)}"

    @property
    def key(self) -> str:
        """The current conversation key."""
        return f"console:help:{self.thread}"

    def ask(self, text: str) -> Reply:
        """Send a member message through the service and show the reply."""
        msg = IncomingMessage(
            platform="console",
            channel_id="help",
            thread_id=self.thread,
            message_id="",
            text=text,
            member=self.user,
            channel_name="#help",
        )
        reply = self.app.service.handle(msg)
        self.show(reply)
        return reply

    def action(self, action: str, value: str = "") -> Reply:
        """Press a member button."""
        reply = self.app.service.handle_action(self.key, action, value, self.user, "console")
        self.show(reply)
        return reply

    def show(self, reply: Reply) -> None:
        """Render a reply in the help channel and, on escalation, the staff channel."""
        self.last = reply
        if reply.route == "relay":
            self.console.print(
                f"[dim]#staff ← relayed to ticket #{reply.ticket_id}:[/] {reply.relay_text}"
            )
            return
        body = reply.text
        if reply.citations:
            body += "\n\nSources: " + "; ".join(f"{c.title} ({c.url})" for c in reply.citations)
        if reply.options:
            body += "\n" + "  ".join(f"[{i}] {o.label}" for i, o in enumerate(reply.options, 1))
        meta = f"route={reply.route} confidence={reply.confidence:.2f} reasons={','.join(reply.reasons) or '-'}"
        if reply.issue_type:
            meta += f" issue={reply.issue_type}"
        self.console.print(
            Panel(body, title="Deskhand in #help", subtitle=meta, border_style="cyan")
        )
        if reply.route == "escalate" and reply.ticket_id:
            self.ticket_id = reply.ticket_id
            self.show_card(reply.ticket_id)

    def show_card(self, ticket_id: int) -> None:
        """The context card staff would see."""
        view = ticket_view(self.app.desk.get(ticket_id))
        table = Table(show_header=False, box=None)
        member = view["member"] or {}
        rows = [
            ("Member", member.get("display_name") or member.get("user_id", "")),
            ("Issue", f"{view['issue_type'] or '-'} (confidence {view['confidence']:.2f})"),
            ("Severity / mood", f"{view['severity']} / {view['sentiment']}"),
            ("Reasons", ", ".join(view["reasons"])),
            ("Team", view["team"]),
            ("Summary", view["summary"]),
            (
                "Articles",
                "; ".join(f"{a['title']} ({a['score']:.2f})" for a in view["articles"][:3]) or "-",
            ),
            ("Status", f"{view['status']} {view['claimed_by'] or ''}"),
        ]
        for key, value in rows:
            table.add_row(f"[bold]{key}[/]", str(value))
        self.console.print(
            Panel(table, title=f"#staff: ticket #{ticket_id}", border_style="magenta")
        )

    def staff_say(self, text: str) -> None:
        """A staff reply in the ticket thread, relayed unless it is an internal note."""
        relay = self.app.desk.staff_message(
            self._ticket(), self.staff.user_id, self.staff.display_name, text
        )
        if relay.internal:
            self.console.print(f"[dim]#staff (internal note, not sent): {text}[/]")
        else:
            self.console.print(
                Panel(text, title=f"{relay.staff_name} in #help", border_style="green")
            )

    def staff_action(self, verb: str) -> None:
        """Claim, resolve or hand back the open ticket."""
        ticket_id = self._ticket()
        desk = self.app.desk
        ticket = {"claim": desk.claim, "resolve": desk.resolve, "handback": desk.hand_back}[verb](
            ticket_id, self.staff.user_id
        )
        self.console.print(f"[magenta]ticket #{ticket_id} is now {ticket.status}[/]")
        if verb == "resolve":
            self.console.print("Deskhand in #help: How did we do? Rate 1-5 with /rate N")

    def _ticket(self) -> int:
        if not self.ticket_id:
            raise DeskError("There is no open ticket in this demo yet.")
        return self.ticket_id

    def run_command(self, text: str) -> None:
        """Handle one demo line; returns normally unless the user quits."""
        head, _, rest = text.partition(" ")
        if head == "/new":
            self.thread, self.ticket_id = f"t{next(self._threads)}", None
            self.console.print(f"[dim]new thread {self.thread}[/]")
        elif head == "/pick" and self.last and self.last.options:
            index = int(rest or 0) - 1
            if not 0 <= index < len(self.last.options):
                raise DeskError(f"Pick a number from 1 to {len(self.last.options)}.")
            self.action("option", self.last.options[index].value)
        elif head in ("/helpful", "/nothelpful", "/human"):
            self.action(
                {"/helpful": "helpful", "/nothelpful": "not_helpful", "/human": "human"}[head]
            )
        elif head == "/staff":
            self.staff_say(rest)
        elif head in ("/claim", "/resolve", "/handback"):
            self.staff_action(head[1:])
        elif head == "/rate":
            self.app.desk.record_rating(self._ticket(), int(rest), self.user.user_id)
            self.console.print("Thanks for the rating!")
        elif head == "/deskhand":
            self.admin(rest)
        elif head == "/help":
            self.console.print(HELP)
        else:
            self.console.print(f"Unknown demo command {head}. Type /help.")

    def admin(self, text: str) -> None:
        """Run an admin command as the local admin."""
        from admin_commands import Caller, run_command

        result = run_command(
            self.app,
            Caller(platform="console", user_id="admin", display_name="Admin", channel_id="help"),
            text,
        )
        style = "yellow" if result.ok else "red"
        body = result.text
        if result.table:
            body += "\n" + "\n".join(" | ".join(map(str, row)) for row in result.table)
        if result.image_png:
            path = self.app.config.home_path / (result.image_name or "chart.png")
            path.write_bytes(result.image_png)
            body += f"\n(chart saved to {path})"
        self.console.print(Panel(body, title=result.title or "deskhand", border_style=style))


def run_demo(app: Any, lines: list[str] | None = None) -> None:
    """The interactive loop (or a scripted one when `lines` is given)."""
    session = ConsoleSession(app)
    session.console.print(Panel(HELP, title="Deskhand demo: #help and #staff in one terminal"))
    source = iter(lines) if lines is not None else None
    while True:
        try:
            text = next(source) if source is not None else session.console.input("[bold]you> [/]")
        except (EOFError, KeyboardInterrupt, StopIteration):
            break
        text = text.strip()
        if text in ("/quit", "/exit"):
            break
        try:
            if text.startswith("/"):
                session.run_command(text)
            else:
                session.ask(text)
        except (DeskError, ValueError) as exc:
            session.console.print(f"[red]{exc}[/]")
