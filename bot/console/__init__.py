"""The console adapter: a local help channel and a simulated staff channel in the terminal.

Everything shown here is built as rich `Text`, never parsed as markup: member, staff and article
text may contain square brackets ("[email]", "[/b]", "[answer X]") and must show as typed.
"""

from __future__ import annotations

import itertools
import json
import logging
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from bot.card import card_of
from bot.contracts import Citation, IncomingMessage, Member, Reply
from bot.desk import DeskError
from bot.desk_outcome import CARD_KIND, OUTCOME_KIND
from bot.desk_service import RATING_PROMPT, DeskOutcome
from bot.escalation import card_goes_first
from bot.llm.assist import suggest_reply
from bot.policy import Actor

if TYPE_CHECKING:  # adapters receive the running app
    from bot.app import Deskhand

log = logging.getLogger(__name__)
PLATFORM = "console"
HELP = """Type a question as a community member. Demo commands:
  /new              start a new thread (a new conversation)
  /pick N           pick clarifying option N        /human   ask for a person
  /helpful          mark the last answer helpful    /nothelpful   not helpful
  /staff TEXT       reply as staff in the open ticket (start with // for an internal note)
  /claim  /resolve  /handback                       staff actions on the open ticket
  /send  /ignore    send the drafted reply as is, or ignore it
  /rate N           rate the resolved ticket 1-5
  /deskhand ...     admin commands (you are admin here), e.g. /deskhand help
  /press N          press button N of the last admin result (e.g. Draft under `gaps`)
  /quit"""
END_OF_TEXT = "."  # a line with only this ends a multi-line form field
CANCEL = "/cancel"


class FormCancelled(Exception):
    """The user stopped filling in a form (or the input ended); nothing is submitted."""


def plain(text: object, style: str = "") -> Text:
    """Text shown exactly as written: brackets are characters, not markup."""
    return Text(str(text), style=style)


def citation_line(citations: list[Citation]) -> str:
    """'Title (url)' per source; an article without a URL is just its title."""
    return "; ".join(f"{c.title} ({c.url})" if c.url else c.title for c in citations)


def new_run_id() -> str:
    """A short random id for this demo run, so thread keys never collide with stored ones."""
    return secrets.token_hex(3)


@dataclass
class ConsoleSession:
    """State of one demo session: the current thread and the last reply."""

    app: Deskhand
    console: Console = field(default_factory=Console)
    user: Member = field(default_factory=lambda: Member("demo-user", "You"))
    staff: Member = field(default_factory=lambda: Member("demo-staff", "Sam (staff)"))
    read: Callable[[str], str] = input  # how form fields are asked for (scripted runs read lines)
    run_id: str = field(default_factory=new_run_id)
    _threads: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    thread: str = ""
    last: Reply | None = None
    ticket_id: int | None = None
    visitor: Member = field(default_factory=lambda: Member("demo-visitor", "Vic (not staff)"))
    member_thread: list[str] = field(default_factory=list)  # what the member was shown
    staff_threads: list[tuple[str, str, str]] = field(
        default_factory=list
    )  # (channel, thread, text)
    cards: list[tuple[str, Any]] = field(default_factory=list)  # (channel, Card) as drawn
    buttons: list[Any] = field(default_factory=list)  # the last admin result's CommandButtons
    last_result: Any = None  # the last admin CommandResult shown

    def __post_init__(self) -> None:
        self.thread = self._next_thread()

    def _next_thread(self) -> str:
        return f"{self.run_id}-t{next(self._threads)}"

    @property
    def key(self) -> str:
        """The current conversation key."""
        return f"console:help:{self.thread}"

    def say(self, text: object, style: str = "") -> None:
        """Print one line as plain text."""
        self.console.print(plain(text, style))

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
        self.deliver_pending()
        return reply

    def action(self, action: str, value: str = "", as_visitor: bool = False) -> Reply:
        """Press a member button; they belong to the member who asked (`as_visitor`: someone else)."""
        who = self.visitor if as_visitor else self.user
        check = self.app.service.threads.may_press(self.actor(who, False), action, key=self.key)
        if check.refusal:
            self.say(check.refusal, "red")
            return Reply(route="notice", text=check.refusal)
        reply = self.app.service.handle_action(self.key, action, value, who, "console")
        self.show(reply)
        return reply

    def show(self, reply: Reply) -> None:
        """Render a reply in the help channel and, on escalation, the staff channel."""
        self.last = reply
        if reply.route == "relay":
            if reply.ticket_id:
                ticket = self.app.desk.get(reply.ticket_id)
                if card_goes_first(ticket):  # a relay that overtook its card brings it up first
                    self.post_card(reply.ticket_id)
                    ticket = self.app.desk.get(reply.ticket_id)
                where = (ticket.staff_channel_id, ticket.staff_thread_id)
                self.staff_threads.append((*where, reply.relay_text or ""))
            line = plain(f"#staff ← relayed to ticket #{reply.ticket_id}: ", "dim")
            self.console.print(line.append(reply.relay_text or ""))
            return
        body = reply.text
        if reply.citations:
            body += "\n\nSources: " + citation_line(reply.citations)
        if reply.options:
            body += "\n" + "  ".join(f"[{i}] {o.label}" for i, o in enumerate(reply.options, 1))
        meta = f"route={reply.route} confidence={reply.confidence:.2f} reasons={','.join(reply.reasons) or '-'}"
        if reply.issue_type:
            meta += f" issue={reply.issue_type}"
        self.console.print(
            Panel(plain(body), title="Deskhand in #help", subtitle=plain(meta), border_style="cyan")
        )
        if reply.route == "escalate" and reply.ticket_id:
            self.ticket_id = reply.ticket_id
            self.post_card(reply.ticket_id)

    def post_card(self, ticket_id: int) -> None:
        """Post the card as a thread of the ticket's staff channel, with the drafted reply."""
        view = self.app.desk_service.card_view(ticket_id)
        channel = view.get("staff_channel_id") or self.app.policy.staff_channel(PLATFORM)
        if not view.get("staff_thread_id"):
            self.app.desk.attach_staff_thread(ticket_id, channel, f"{channel}-{ticket_id}")
        self.show_card(ticket_id)
        try:
            draft = str(suggest_reply(self.app, ticket_id).get("text") or "").strip()
        except Exception:  # a failing draft never blocks the card
            log.exception("ticket %s: no drafted reply", ticket_id)
            draft = ""
        if draft:
            self.console.print(
                Panel(plain(draft), title="Suggested reply (not sent yet): /send or /ignore")
            )

    def show_card(self, ticket_id: int) -> None:
        """The context card staff would see, in the ticket's staff channel."""
        view = self.app.desk_service.card_view(ticket_id)
        card = card_of(view)
        channel = view.get("staff_channel_id") or self.app.policy.staff_channel(PLATFORM)
        self.cards.append((channel, card))
        table = Table(show_header=False, box=None)
        rows = [
            ("Member", card.member_name or card.member_id),
            ("Issue", f"{card.issue_type or '-'} (confidence {card.confidence:.2f})"),
            ("Severity / mood", f"{card.severity} / {card.sentiment}"),
            ("Reasons", ", ".join(card.reasons)),
            ("Team", card.team),
            ("Summary", card.summary),
            ("Articles", "; ".join(f"{a.title} ({a.score:.2f})" for a in card.articles) or "-"),
            ("Earlier tickets", "; ".join(h.line for h in card.history) or "-"),
            ("Status", f"{card.status} {card.claimed_by}"),
        ]
        for key, value in rows:
            table.add_row(plain(key, "bold"), plain(value))
        self.console.print(
            Panel(table, title=plain(f"#{channel}: ticket #{ticket_id}"), border_style="magenta")
        )

    def actor(self, who: Member, in_staff_channel: bool) -> Actor:
        """The policy's view of a demo person (staff act inside the simulated #staff)."""
        return Actor("console", who.user_id, who.display_name, in_staff_channel=in_staff_channel)

    def staff_say(
        self, text: str, as_visitor: bool = False, thread: tuple[str, str] | None = None
    ) -> DeskOutcome:
        """A staff reply in the ticket thread, relayed unless it is an internal note.

        `as_visitor` writes as someone outside #staff (not staff): never relayed. `thread`
        (channel, thread) writes in that staff thread: one no ticket lives in relays nothing.
        """
        if not text.strip():
            raise DeskError("Write the reply after the command: /staff TEXT.")
        ticket_id = self._ticket()
        if thread is not None:
            found = self.app.desk.find_by_staff_thread(PLATFORM, *thread)
            if found is None:
                self.say("#staff: no ticket lives in this thread; this was not relayed.", "red")
                return DeskOutcome(ticket_id=0, ok=False, private_note="not relayed")
            ticket_id = int(found.id or 0)
        who = self.actor(self.visitor, False) if as_visitor else self.actor(self.staff, True)
        outcome = self.app.desk_service.staff_reply(who, ticket_id, text)
        if outcome.staff_mark == "note":
            self.say(f"#staff (internal note, not sent): {text}", "dim")
        self.render(outcome)
        return outcome

    def staff_action(self, verb: str, as_visitor: bool = False) -> DeskOutcome:
        """Claim, resolve or hand back the open ticket."""
        who = self.actor(self.visitor, False) if as_visitor else self.actor(self.staff, True)
        outcome = self.app.desk_service.press(who, self._ticket(), verb)
        if outcome.ok:
            self.say(f"ticket #{outcome.ticket_id} is now {outcome.status}", "magenta")
        self.render(outcome)
        return outcome

    def assist(self, choice: str, as_visitor: bool = False) -> DeskOutcome:
        """Send the drafted reply as is, or ignore it (once)."""
        who = self.actor(self.visitor, False) if as_visitor else self.actor(self.staff, True)
        outcome = self.app.desk_service.assist(who, self._ticket(), choice)
        self.render(outcome)
        return outcome

    def rate(self, rating: int, as_visitor: bool = False) -> DeskOutcome:
        """The member rates the resolved ticket."""
        who = self.visitor if as_visitor else self.user
        outcome = self.app.desk_service.rate(self.actor(who, False), self._ticket(), rating)
        self.render(outcome)
        return outcome

    def render(self, outcome: DeskOutcome) -> None:
        """Print a desk outcome: the private note, what the member and staff see, the card."""
        if outcome.private_note:
            self.say(outcome.private_note, "red")
        for notice in outcome.staff_notices:
            self.staff_threads.append((notice.channel, notice.thread, notice.text))
            self.say(f"#{notice.channel} (thread {notice.thread}): {notice.text}", "magenta")
        for post in outcome.to_member:
            self.member_thread.append(post.text)
            title = (
                f"{post.staff_name} (staff) in #help"
                if post.kind == "relay"
                else "Deskhand in #help"
            )
            self.console.print(Panel(plain(post.text), title=plain(title), border_style="green"))
        if outcome.rating_prompt:
            self.member_thread.append(RATING_PROMPT)
            self.say(f"Deskhand in #help: {RATING_PROMPT} (/rate N)")
        if outcome.refresh_card and outcome.ok:
            self.show_card(outcome.ticket_id)
        if outcome.buttons_done and outcome.ok:
            self.say(outcome.buttons_done)

    def deliver_pending(self) -> None:
        """Show what desk changes recorded for the console (a transfer, a reopen), in order."""
        outbox = self.app.outbox
        while items := outbox.due(PLATFORM):  # one thread's next item is due once its head is done
            for item in items:
                payload = json.loads(item.payload)
                if item.kind == OUTCOME_KIND:
                    self.render(DeskOutcome.from_dict(payload))
                elif item.kind == CARD_KIND:
                    self.post_card(int(payload["ticket_id"]))
                else:
                    continue  # nothing else is sent on the console (leased, so not seen again)
                outbox.done(item.id or 0)

    def _ticket(self) -> int:
        if not self.ticket_id:
            raise DeskError("There is no open ticket in this demo yet.")
        return self.ticket_id

    def pick(self, rest: str) -> None:
        """Pick clarifying option N of the last reply, with a clear word for anything else."""
        options = self.last.options if self.last else []
        if not options:
            raise DeskError("There is nothing to pick: /pick N follows a clarifying question.")
        if not rest.strip().isdigit() or not 1 <= int(rest) <= len(options):
            raise DeskError(f"Pick a number from 1 to {len(options)}, e.g. /pick 1.")
        self.action("option", options[int(rest) - 1].value)

    def rate_command(self, rest: str) -> None:
        """/rate N: rate the ticket of this demo 1-5."""
        if not rest.strip().isdigit() or not 1 <= int(rest) <= 5:
            raise DeskError("Rate with a whole number from 1 to 5, e.g. /rate 5.")
        self.rate(int(rest))

    def run_command(self, text: str) -> None:
        """Handle one demo line; returns normally unless the user quits."""
        head, _, rest = text.partition(" ")
        if head == "/new":
            self.thread, self.ticket_id, self.last = self._next_thread(), None, None
            self.say(f"new thread {self.thread}", "dim")
        elif head == "/pick":
            self.pick(rest)
        elif head in ("/helpful", "/nothelpful", "/human"):
            if self.last is None:
                raise DeskError(f"Ask something first: {head} acts on the bot's last reply.")
            self.action(
                {"/helpful": "helpful", "/nothelpful": "not_helpful", "/human": "human"}[head]
            )
        elif head == "/staff":
            self.staff_say(rest)
        elif head in ("/claim", "/resolve", "/handback"):
            self.staff_action(head[1:])
        elif head in ("/send", "/ignore"):
            self.assist(head[1:])
        elif head == "/rate":
            self.rate_command(rest)
        elif head == "/deskhand":
            self.admin(rest)
        elif head == "/press":
            self.press_command(rest)
        elif head == "/help":
            self.say(HELP)
        else:
            self.say(f"Unknown demo command {head}. Type /help.")

    def admin_caller(self, as_visitor: bool = False) -> Any:
        """The local admin at the terminal, or the simulated visitor (a member, not staff)."""
        from admin_commands import Caller

        if as_visitor:
            visitor = self.visitor
            return Caller("console", visitor.user_id, visitor.display_name, channel_id="help")
        return Caller(platform="console", user_id="admin", display_name="Admin", channel_id="help")

    def admin(self, text: str) -> None:
        """Run an admin command as the local admin; a form is asked for field by field."""
        from admin_commands import run_command

        caller = self.admin_caller()
        self.answer(caller, run_command(self.app, caller, text))

    def press_command(self, rest: str, as_visitor: bool = False) -> None:
        """/press N: press button N of the last admin result, as the admin or the visitor."""
        from admin_commands import run_press

        if not self.buttons:
            raise DeskError("There is no button to press: /press N follows an admin result.")
        if not rest.strip().isdigit() or not 1 <= int(rest) <= len(self.buttons):
            raise DeskError(f"Press a number from 1 to {len(self.buttons)}, e.g. /press 1.")
        caller = self.admin_caller(as_visitor)
        self.answer(caller, run_press(self.app, caller, self.buttons[int(rest) - 1].line))

    def answer(self, caller: Any, result: Any) -> None:
        """Show a command's result: a form asked for first, then text, figures and buttons."""
        from admin_commands import run_command_form

        if result.modal is not None:
            try:
                values = self.fill_form(result.modal)
            except FormCancelled as exc:
                self.say(f"{result.modal.title}: {exc or 'cancelled'}; nothing was changed.", "red")
                return
            result = run_command_form(self.app, caller, result.modal.command, values)
        self.show_result(result)
        if result.deliver_now:
            self.deliver_pending()

    def fill_form(self, spec: Any) -> dict[str, str]:
        """Ask for each field of a form in the terminal (the chat platforms show a modal)."""
        self.say(
            f"{spec.title}: answer each field. Enter keeps the value in brackets; end multi-line "
            f"text with a line '{END_OF_TEXT}'; {CANCEL} stops. Or give everything inline next "
            'time, e.g. /deskhand kb add "Title" "Body" --topic T.',
            "yellow",
        )
        values: dict[str, str] = {}
        for item in spec.fields:
            hint = f" [{item.default[:40]}]" if item.default and not item.multiline else ""
            if item.multiline:
                value = self._read_lines(f"{item.label} (end with '{END_OF_TEXT}')")
            else:
                value = self._read_line(f"{item.label}{hint}: ")
            value = value or item.default
            if item.required and not value.strip():
                raise FormCancelled(f"{item.label} is required")
            values[item.name] = value
        return values

    def _read_line(self, prompt: str) -> str:
        try:
            line = self.read(prompt)
        except (EOFError, KeyboardInterrupt, StopIteration) as exc:
            raise FormCancelled("the input ended") from exc
        if line.strip() == CANCEL:
            raise FormCancelled("cancelled")
        return line.rstrip("\n")

    def _read_lines(self, prompt: str) -> str:
        self.say(prompt)
        lines: list[str] = []
        while (line := self._read_line("… ")).strip() != END_OF_TEXT:
            lines.append(line)
        return "\n".join(lines).strip()

    def show_result(self, result: Any) -> None:
        """An admin command's text, fields (the figures), table, chart location and buttons."""
        self.last_result = result
        style = "yellow" if result.ok else "red"
        parts = [result.text]
        if result.fields:
            width = max(len(name) for name, _ in result.fields)
            parts.append("\n".join(f"{name:<{width}}  {value}" for name, value in result.fields))
        if result.table:
            parts.append("\n".join(" | ".join(map(str, row)) for row in result.table))
        if result.usage:
            parts.append(f"Usage: /deskhand {result.usage}")
        if result.image_png:
            path = self.app.config.home_path / (result.image_name or "chart.png")
            path.write_bytes(result.image_png)
            parts.append(f"(chart saved to {path})")
        if result.buttons:  # a result without buttons keeps the earlier ones pressable
            self.buttons = list(result.buttons)
            parts.append(
                "  ".join(f"[{i}] {b.label}" for i, b in enumerate(result.buttons, 1))
                + "   (/press N)"
            )
        body = plain("\n\n".join(p for p in parts if p))
        self.console.print(Panel(body, title=plain(result.title or "deskhand"), border_style=style))


def run_demo(app: Deskhand, lines: list[str] | None = None, console: Console | None = None) -> None:
    """The interactive loop (or a scripted one when `lines` is given)."""
    console = console or Console()
    source = iter(lines) if lines is not None else None

    def read(prompt: str) -> str:
        if source is None:
            return console.input(plain(prompt, "bold"))
        line = next(source)
        console.print(plain(prompt, "bold").append(line, style="default"))  # a readable transcript
        return line

    session = ConsoleSession(app, console=console, read=read)
    console.print(Panel(plain(HELP), title="Deskhand demo: #help and #staff in one terminal"))
    while True:
        try:
            text = read("you> ")
        except (EOFError, KeyboardInterrupt, StopIteration):
            break
        text = text.strip()
        if text in ("/quit", "/exit"):
            break
        if not text:
            continue
        try:
            if text.startswith("/"):
                session.run_command(text)
            else:
                session.ask(text)
        except (DeskError, ValueError) as exc:
            session.say(str(exc), "red")
