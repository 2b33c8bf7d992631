"""The terminal demo as a new user meets it: driven through bot.console on a real sample app."""

from __future__ import annotations

import io

from rich.console import Console

from bot.console import ConsoleSession, run_demo
from bot.contracts import Citation, Option, Reply


def _console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=200, color_system=None), out


def _demo(app, lines: list[str]) -> str:
    console, out = _console()
    run_demo(app, [*lines, "/quit"], console=console)
    return out.getvalue()


def test_square_brackets_in_member_staff_and_help_text_show_as_typed(app) -> None:
    out = _demo(
        app,
        [
            "I want a human. My invoice shows [/b] and [red]weird[/red]",
            "/staff Send it to [email] and we will check [bold]it[/bold]",
            "/deskhand help threshold",
        ],
    )
    assert "[/b] and [red]weird[/red]" in out  # in the reply panel's card summary
    assert "[email] and we will check [bold]it[/bold]" in out
    assert "[answer X] [clarify Y]" in out  # the usage line of threshold set


def test_thread_ids_never_collide_with_an_earlier_demo_run(app) -> None:
    first = ConsoleSession(app, console=_console()[0])
    assert first.ask("I want to talk to a human").route == "escalate"
    again = ConsoleSession(app, console=_console()[0])  # the demo restarted on the same home
    assert again.key != first.key
    reply = again.ask("how do I reset my password")
    assert reply.route == "answer"  # not relayed to the old ticket


def test_bad_demo_arguments_get_a_clear_line(app) -> None:
    out = _demo(
        app,
        [
            "/helpful",
            "/pick 1",
            "I want a human",
            "/rate abc",
            "/rate 9",
            "/staff",
        ],
    )
    assert "Ask something first: /helpful acts on the bot's last reply." in out
    assert "There is nothing to pick" in out
    assert "Rate with a whole number from 1 to 5" in out
    assert "Write the reply after the command" in out
    assert "invalid literal" not in out


def test_pick_rejects_words_and_out_of_range_numbers(app) -> None:
    console, out = _console()
    session = ConsoleSession(app, console=console)
    session.last = Reply(
        route="clarify", text="Which one?", options=[Option("A", "1"), Option("B", "2")]
    )
    for bad in ("abc", "0", "3", ""):
        try:
            session.run_command(f"/pick {bad}".strip())
        except ValueError as exc:
            assert "Pick a number from 1 to 2" in str(exc)
            assert "invalid literal" not in str(exc)
        else:
            raise AssertionError(f"/pick {bad} was accepted")


def test_stats_in_the_demo_shows_its_figures(app) -> None:
    out = _demo(app, ["how do I reset my password", "/deskhand stats"])
    assert "Questions" in out and "Answered" in out
    assert "Resolved (assumed)" in out


def test_kb_add_asks_for_the_form_fields_in_the_terminal(app) -> None:
    before = len(app.kb.list())
    out = _demo(
        app,
        [
            "/deskhand kb add",
            "Offline [beta] mode",
            "Open Settings → Offline.",
            "[Step 2] pick the folders to keep.",
            ".",
            "",  # url: none
            "devices",  # topic
            "",  # tags
        ],
    )
    added = [a for a in app.kb.list() if a.title == "Offline [beta] mode"]
    assert len(app.kb.list()) == before + 1 and added, out
    assert added[0].body == "Open Settings → Offline.\n[Step 2] pick the folders to keep."
    assert added[0].topic == "devices"
    assert "fill in the form" not in out.lower()


def test_kb_add_form_can_be_cancelled_and_adds_nothing(app) -> None:
    before = len(app.kb.list())
    out = _demo(app, ["/deskhand kb add", "A title", "/cancel"])
    assert len(app.kb.list()) == before
    assert "nothing was changed" in out
    out = _demo(app, ["/deskhand kb add", "", "body", "."])  # title is required
    assert len(app.kb.list()) == before
    assert "Title is required" in out


def test_a_citation_without_url_is_just_its_title(app) -> None:
    console, out = _console()
    session = ConsoleSession(app, console=console)
    session.show(
        Reply(
            route="answer",
            text="Here it is.",
            citations=[Citation("Dark mode", ""), Citation("Billing", "https://x.example/b")],
        )
    )
    text = out.getvalue()
    assert "Sources: Dark mode; Billing (https://x.example/b)" in text
    assert "Dark mode ()" not in text


def test_a_relay_that_overtakes_its_card_brings_the_card_up_first(app) -> None:
    """The Slack/Discord race on the console: a ticket whose card was never drawn gets the
    member's next message; the card is drawn first and the relay lands in its thread."""
    from bot.contracts import IncomingMessage

    console, out = _console()
    session = ConsoleSession(app, console=console)
    escalated = app.service.handle(  # decided and recorded outside the session: no card drawn
        IncomingMessage(
            "console",
            "help",
            session.thread,
            "",
            "I want to talk to a human",
            session.user,
            channel_name="#help",
        )  # fmt: skip
    )
    assert escalated.route == "escalate" and escalated.ticket_id
    assert session.ask("it's urgent, please").route == "relay"
    ticket = app.desk.get(escalated.ticket_id)
    assert ticket.staff_thread_id
    assert [c for c, card in session.cards if card.ticket_id == escalated.ticket_id]
    assert session.staff_threads[-1] == (
        ticket.staff_channel_id,
        ticket.staff_thread_id,
        "it's urgent, please",
    )
    text = out.getvalue()
    assert text.index(f"ticket #{escalated.ticket_id}") < text.index("relayed to ticket")
