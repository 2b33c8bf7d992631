"""Pure renderers: platform-neutral Reply / ticket dicts in, Block Kit (blocks + fallback text) out."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from admin_commands.contracts import CommandButton, CommandResult, ModalSpec
from bot.card import card_of
from bot.contracts import Button, Renderable, Reply
from bot.slack.text import chunks, escape, link, safe_mrkdwn, truncate

ACTION_PREFIX = "deskhand:"
MEMBER_ACTIONS = ("helpful", "not_helpful", "human", "option")
STAFF_ACTIONS = ("claim", "resolve", "handback")
ASSIST_ACTIONS = ("assist_send", "assist_ignore")
COMMAND_ACTION = "cmd"  # a CommandButton under an admin result; its value is the command line
MAX_BLOCKS = 50
Blocks = list[dict[str, Any]]


def action_id(action: str, index: int | None = None) -> str:
    """Stable action_id for a button; options and ratings get an index to stay unique."""
    return f"{ACTION_PREFIX}{action}" + (f":{index}" if index is not None else "")


def parse_action_id(value: str) -> str:
    """The Deskhand action name from an action_id ('deskhand:option:2' -> 'option')."""
    return value.removeprefix(ACTION_PREFIX).split(":", 1)[0]


def member_value(conversation_key: str, value: str = "") -> str:
    """Button value for member actions: the conversation key, plus the option value if any."""
    return f"{conversation_key}|{value}" if value else conversation_key


def parse_member_value(raw: str) -> tuple[str, str]:
    """Split a member button value back into (conversation_key, value)."""
    key, _, value = raw.partition("|")
    return key, value


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text or " "}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": truncate(text, 2900)}]}


def _button(label: str, aid: str, value: str, style: str = "") -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": truncate(label, 75), "emoji": True},
        "action_id": aid,
        "value": truncate(value, 2000),
    }
    if style:
        button["style"] = style
    return button


def _actions(block_id: str, elements: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "actions", "block_id": block_id, "elements": list(elements)[:25]}


def member_buttons(buttons: Iterable[Button], conversation_key: str) -> list[dict[str, Any]]:
    """Block Kit buttons for a reply's member actions (feedback, options, talk to a person)."""
    out = []
    styles = {"helpful": "primary"}
    for index, button in enumerate(buttons):
        aid = action_id(button.action, index if button.action == "option" else None)
        value = member_value(conversation_key, button.value)
        out.append(_button(button.label, aid, value, styles.get(button.action, "")))
    return out


def render_reply(reply: Reply, conversation_key: str) -> tuple[str, Blocks]:
    """A member-facing reply: escaped answer text, sources as links, action buttons."""
    text = safe_mrkdwn(reply.text.strip())
    blocks: Blocks = [_section(part) for part in chunks(text)]
    if reply.citations:
        links = " · ".join(link(c.url, c.title) for c in reply.citations[:8])
        blocks.append(_context(f"*Sources:* {links}"))
    if reply.buttons:
        blocks.append(_actions("deskhand_reply", member_buttons(reply.buttons, conversation_key)))
    return truncate(escape(reply.text.strip()) or "Deskhand", 3000), blocks[:MAX_BLOCKS]


def render_shadow(reply: Reply, member_channel: str, member_name: str) -> tuple[str, Blocks]:
    """What the bot would have said in a shadow-mode channel, shown to staff only."""
    _, blocks = render_reply(reply, "")
    blocks = [b for b in blocks if b["type"] != "actions"]
    who = escape(member_name) or "a member"
    head = _context(
        f":ghost: *Shadow mode* in <#{member_channel}> — reply to {who} "
        f"(route `{reply.route}`, confidence {reply.confidence:.2f}):"
    )
    return f"Shadow reply ({reply.route})", [head, *blocks][:MAX_BLOCKS]


def _status_line(view: dict[str, Any]) -> str:
    status = view.get("status", "open")
    if status == "claimed" and view.get("claimed_by"):
        return f":raising_hand: Claimed by <@{view['claimed_by']}>"
    if status == "resolved":
        return f":white_check_mark: Resolved by <@{view.get('resolved_by') or '?'}>"
    if status == "handed_back":
        return f":robot_face: Handed back to the bot by <@{view.get('resolved_by') or '?'}>"
    return ":hourglass_flowing_sand: Open — nobody has claimed this yet"


def render_escalation_card(view: dict[str, Any], permalink: str = "") -> tuple[str, Blocks]:
    """The staff context card: who, where, why, what the bot found and tried, and desk buttons."""
    card = card_of(view)
    ticket_id = card.ticket_id
    member_label = f"<@{card.member_id}>" if card.member_id else escape(card.member_name or "?")
    if card.member_tier:
        member_label += f" ({escape(card.member_tier)})"
    permalink = permalink or card.permalink
    where = f"<#{card.member_channel_id}>" if card.member_channel_id else "?"
    if permalink:
        where += f" · {link(permalink, 'open message')}"
    fields = [
        f"*Member*\n{member_label}",
        f"*Source*\n{where}",
        f"*Issue type*\n{escape(card.issue_type or 'unclassified')}",
        f"*Confidence*\n{card.confidence:.2f}",
        f"*Sentiment*\n{escape(card.sentiment)}",
        f"*Severity*\n{escape(card.severity)}",
    ]
    if card.language:  # why the bot could not help: it reads English only
        fields.append(f"*Language*\n{escape(card.language)}")
    reasons = ", ".join(f"`{escape(r)}`" for r in card.reasons) or "—"
    icon = ":rotating_light:" if card.severity in ("high", "urgent") else ":sos:"
    blocks: Blocks = [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": truncate(f"Escalation #{ticket_id} · {card.issue_type or 'general'}", 150),
            },
        },
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields]},
        _section(f"{icon} *Reasons:* {reasons}"),
    ]
    if card.summary:
        blocks.append(_section(truncate(f"*Summary*\n{safe_mrkdwn(card.summary)}", 2900)))
    if card.question:
        blocks.append(_section(truncate(f"*Question*\n>{escape(card.question)}", 2900)))
    if card.articles:
        lines = [f"• {link(a.url, a.title)} — {a.score:.2f}" for a in card.articles]
        blocks.append(_section(truncate("*Articles found*\n" + "\n".join(lines), 2900)))
    if card.history:
        lines = [f"• {escape(h.line)}" for h in card.history]
        blocks.append(_section(truncate("*Earlier tickets*\n" + "\n".join(lines), 2900)))
    if card.sentiment_card:
        blocks.append(_section(truncate("*Sentiment card*\n" + escape(card.sentiment_card), 2900)))
    if card.attempted_answer:
        attempted = truncate(escape(card.attempted_answer), 2600)
        blocks.append(_section(f"*Attempted answer*\n```{attempted}```"))
    blocks.append(_context(_status_line(view)))
    if card.workable:
        value = str(ticket_id)
        buttons = [
            _button("Claim", action_id("claim"), value, "primary"),
            _button("Resolve", action_id("resolve"), value),
            _button("Hand back to the bot", action_id("handback"), value),
        ]
        if card.status == "claimed":
            buttons = buttons[1:]
        blocks.append(_actions("deskhand_desk", buttons))
    text = f"Escalation #{ticket_id}: {escape(card.issue_type or 'general')} from {member_label}"
    return text, blocks[:MAX_BLOCKS]


ROLE_LABELS = {"member": "Member", "bot": "Deskhand", "staff": "Staff", "note": "Note"}


def render_transcript(transcript: list[dict[str, Any]], limit: int = 11000) -> list[str]:
    """The conversation so far as thread messages for the staff card (escaped, chunked)."""
    lines = []
    for turn in transcript:
        role = ROLE_LABELS.get(str(turn.get("role")), str(turn.get("role", "?")).title())
        author = turn.get("author") or ""
        who = f"{role} ({escape(author)})" if author else role
        lines.append(f"*{who}:* {escape(str(turn.get('text', '')))}")
    body = truncate("\n".join(lines) or "_No transcript._", limit)
    return [
        f":scroll: *Transcript*\n{part}" if i == 0 else part
        for i, part in enumerate(chunks(body, 3900))
    ]


def render_member_relay(text: str, member_name: str) -> str:
    """A member's message forwarded to the staff thread (escaped: members are untrusted)."""
    return f"*{escape(member_name or 'Member')} (member):* {escape(text)}"


def render_staff_relay(text: str, staff_name: str, customize: bool) -> dict[str, Any]:
    """chat.postMessage kwargs for a staff reply in the member thread, under the staff name."""
    name = truncate(staff_name or "Staff", 70)
    if customize:
        return {"text": text, "username": f"{name} (staff)", "icon_emoji": ":technologist:"}
    return {"text": f"*{escape(name)} (staff):* {text}"}


def render_assist_suggestion(ticket_id: int, suggestion: dict[str, Any]) -> tuple[str, Blocks]:
    """Agent assist in the staff thread: the drafted reply (escaped), its sources, Send / Ignore."""
    body = safe_mrkdwn(str(suggestion.get("text") or "").strip())
    blocks: Blocks = [_section(":bulb: *Suggested reply (not sent yet)*")]
    blocks += [_section(part) for part in chunks(truncate(body, 12000))]
    citations = suggestion.get("citations") or []
    if citations:
        links = " · ".join(
            link(str(c.get("url") or ""), str(c.get("title") or "?")) for c in citations[:8]
        )
        blocks.append(_context(f"*Sources:* {links}"))
    value = str(ticket_id)
    buttons = [
        _button("Send as is", action_id("assist_send"), value, "primary"),
        _button("Ignore", action_id("assist_ignore"), value),
    ]
    blocks.append(_actions("deskhand_assist", buttons))
    text = truncate(
        f"Suggested reply (not sent yet): {escape(str(suggestion.get('text') or ''))}", 3000
    )
    return text, blocks[:MAX_BLOCKS]


def render_rating_prompt(ticket_id: int) -> tuple[str, Blocks]:
    """Ask the member for a 1-5 rating after a person resolved their question."""
    buttons = [
        _button(f"{n} " + "★" * n, action_id("rate", n), f"{ticket_id}:{n}") for n in range(1, 6)
    ]
    return "How did we do? Rate this help from 1 to 5.", [
        _section("Our team marked this as resolved. *How did we do?* (1 = poor, 5 = great)"),
        _actions("deskhand_rating", buttons),
    ]


def strip_actions(blocks: Blocks, note: str) -> Blocks:
    """The same message without its buttons, plus a context note (after a button was used)."""
    kept = [b for b in blocks if b.get("type") != "actions"]
    return [*kept, _context(note)][:MAX_BLOCKS]


def panel_blocks(panel: Renderable) -> tuple[str, Blocks]:
    """A titled panel (title, text, fields, table, usage) as Block Kit, with fallback text."""
    title = panel.title or "Deskhand"
    icon = "" if panel.ok else ":warning: "
    blocks: Blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": truncate(icon + title, 150)}}
    ]
    text = panel.text or ""
    blocks += [_section(part) for part in chunks(safe_mrkdwn(text))] if text else []
    fields = list(panel.fields or [])
    for start in range(0, len(fields), 10):
        group = fields[start : start + 10]
        blocks.append(
            {
                "type": "section",
                "fields": [
                    {
                        "type": "mrkdwn",
                        "text": truncate(f"*{escape(str(k))}*\n{safe_mrkdwn(str(v))}", 2000),
                    }
                    for k, v in group
                ],
            }
        )
    if panel.table:
        blocks += [
            _section(f"```{part}```") for part in chunks(escape(format_table(panel.table)), 2800)
        ]
    if panel.usage:
        blocks.append(_context(f"Usage: `{escape(panel.usage)}`"))
    return truncate(f"{title}: {escape(text)}" if text else title, 3000), blocks[:MAX_BLOCKS]


def render_command_result(result: CommandResult) -> tuple[str, Blocks]:
    """An admin CommandResult as Block Kit: its panel, then an actions row for its buttons."""
    text, blocks = panel_blocks(result)
    buttons = command_buttons(result.buttons)
    if buttons:
        blocks = [*blocks[: MAX_BLOCKS - 1], _actions("deskhand_command", buttons)]
    return text, blocks


def command_buttons(buttons: Iterable[CommandButton]) -> list[dict[str, Any]]:
    """Block Kit buttons for a result's CommandButtons: the value is the command line the press
    hands back to the admin layer (which parses and authorises it as if typed)."""
    styles = {"primary": "primary", "danger": "danger"}  # Slack has no 'secondary' style
    return [
        _button(b.label, action_id(COMMAND_ACTION, i), b.line, styles.get(b.style, ""))
        for i, b in enumerate(buttons)
    ]


def format_table(rows: list[list[str]]) -> str:
    """Rows as a fixed-width text table (first row is the header)."""
    rows = [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) if i < len(r) else 0 for r in rows) for i in range(max(map(len, rows)))]
    widths = [min(w, 40) for w in widths]
    lines = []
    for n, row in enumerate(rows):
        cells = [truncate(c, widths[i]).ljust(widths[i]) for i, c in enumerate(row)]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def render_modal(spec: ModalSpec, private_metadata: str) -> dict[str, Any]:
    """A ModalSpec as a views.open payload; field names become block ids."""
    blocks = []
    for field in spec.fields:
        element: dict[str, Any] = {
            "type": "plain_text_input",
            "action_id": "value",
            "multiline": bool(field.multiline),
        }
        if field.default:
            element["initial_value"] = field.default
        blocks.append(
            {
                "type": "input",
                "block_id": field.name,
                "optional": not field.required,
                "label": {"type": "plain_text", "text": truncate(field.label, 2000)},
                "element": element,
            }
        )
    return {
        "type": "modal",
        "callback_id": f"{ACTION_PREFIX}form",
        "private_metadata": private_metadata[:3000],
        "title": {"type": "plain_text", "text": truncate(spec.title or "Deskhand", 24)},
        "submit": {"type": "plain_text", "text": "Save"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": blocks,
    }
