"""Pure renderers from platform-neutral Replies and ticket views to Discord text, embeds and limits."""

from __future__ import annotations

import re
from typing import Any

import discord

from bot.card import card_of
from bot.contracts import Reply

MESSAGE_LIMIT = 2000
FIELD_LIMIT = 1024
EMBED_DESCRIPTION_LIMIT = 4096
THREAD_NAME_LIMIT = 100
TRANSCRIPT_INLINE_LIMIT = 900
BRAND = discord.Colour.blurple()
STATUS_COLOURS = {
    "open": discord.Colour.orange(),
    "claimed": discord.Colour.gold(),
    "resolved": discord.Colour.green(),
    "handed_back": discord.Colour.light_grey(),
}
_FENCE = re.compile(r"```([\w+-]*)")
_MENTION = re.compile(r"<@!?(\d+)>")


def member_mentions(user_id: str | int | None) -> discord.AllowedMentions:
    """Allow pinging only the member being helped: member text can never ping @everyone or roles."""
    users = [discord.Object(id=int(user_id))] if user_id else []
    return discord.AllowedMentions(everyone=False, roles=False, users=users, replied_user=False)


NO_MENTIONS = discord.AllowedMentions.none()


def strip_mention(text: str, bot_id: int | None) -> str:
    """Remove the bot's own mention so the question reads naturally."""
    if bot_id is None:
        return text.strip()
    return re.sub(rf"<@!?{bot_id}>", "", text).strip()


def _open_fence(text: str) -> str | None:
    """The language of the code fence left open at the end of text ('' for none), or None."""
    lang: str | None = None
    for match in _FENCE.finditer(text):
        lang = match.group(1) if lang is None else None
    return lang


def _best_cut(text: str, budget: int) -> tuple[int, int]:
    """Where to end this chunk and where the next starts: paragraph, then line, then word."""
    floor = budget // 3
    for sep in ("\n\n", "\n", " "):
        idx = text.rfind(sep, 0, budget + len(sep))
        if idx > floor:
            return idx, idx + len(sep)
    idx = text.rfind(" ", 0, budget + 1)
    if idx > 0:
        return idx, idx + 1
    return budget, budget  # one unbroken run longer than the budget: hard cut is unavoidable


def split_message(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Split text into chunks within Discord's limit, on clean boundaries, code fences rebalanced."""
    text = text.strip("\n")
    if not text:
        return []
    chunks: list[str] = []
    reopen = ""
    rest = text
    while rest:
        if len(reopen) + len(rest) <= limit:
            chunks.append(reopen + rest)
            break
        budget = limit - len(reopen) - len("\n```")
        end, start = _best_cut(rest, budget)
        piece = reopen + rest[:end].rstrip()
        rest = rest[start:].lstrip("\n")
        lang = _open_fence(piece)
        if lang is not None:
            piece += "\n```"
            reopen = f"```{lang}\n"
        else:
            reopen = ""
        if piece.strip("`\n "):
            chunks.append(piece)
    return chunks


def clip(text: str, limit: int) -> str:
    """Shorten text to a limit with an ellipsis, on a word boundary when possible."""
    text = text or ""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut) + "…"


def thread_name(text: str, fallback: str = "Question") -> str:
    """A readable thread title from the first line of the member's question."""
    first = _MENTION.sub("", text).strip().splitlines()[0] if text.strip() else ""
    return clip(first or fallback, THREAD_NAME_LIMIT - 1) or fallback


def link_text(text: str) -> str:
    """Brackets would break Markdown link syntax; show them as parentheses."""
    return text.replace("[", "(").replace("]", ")")


def citation_embed(reply: Reply) -> discord.Embed | None:
    """Sources as an embed of links, so answers stay short and verifiable."""
    return sources_embed([(cite.title, cite.url) for cite in reply.citations])


def sources_embed(citations: list[tuple[str | None, str | None]]) -> discord.Embed | None:
    """(title, url) pairs as a numbered embed of links; None when there are none."""
    if not citations:
        return None
    lines = []
    for n, (title_text, url) in enumerate(citations[:10], 1):
        title = link_text(clip(title_text or url or "Article", 120))
        lines.append(f"{n}. [{title}]({url})" if url else f"{n}. {title}")
    embed = discord.Embed(
        title="Sources", description="\n".join(lines)[:EMBED_DESCRIPTION_LIMIT], colour=BRAND
    )
    return embed


def reply_chunks(reply: Reply) -> list[str]:
    """The reply text as sendable chunks (never empty when there is something to show)."""
    return split_message(reply.text) or ([reply.text] if reply.text else [])


def _status_line(view: dict[str, Any]) -> str:
    status = view.get("status") or "open"
    if status == "claimed" and view.get("claimed_by"):
        return f"Claimed by <@{view['claimed_by']}>"
    if status == "resolved":
        who = view.get("resolved_by")
        return f"Resolved by <@{who}>" if who else "Resolved"
    if status == "handed_back":
        return "Handed back to the bot"
    return "Open — waiting for a person"


def context_embed(view: dict[str, Any]) -> discord.Embed:
    """The staff card: everything needed to pick up the conversation without asking again."""
    card = card_of(view)
    title = f"Ticket #{card.ticket_id} — {card.issue_type or 'unclassified'}"
    embed = discord.Embed(
        title=clip(title, 256),
        description=clip(card.summary or card.question, 2000),
        colour=STATUS_COLOURS.get(card.status, BRAND),
    )
    who = card.member_name or "member"
    member_line = f"<@{card.member_id}> ({who})" if card.member_id else who
    if card.member_tier:
        member_line += f" · {card.member_tier}"
    embed.add_field(name="Member", value=clip(member_line, FIELD_LIMIT), inline=True)
    if card.permalink:
        embed.add_field(
            name="Conversation", value=f"[Jump to message]({card.permalink})", inline=True
        )
    embed.add_field(name="Status", value=_status_line(view), inline=True)
    embed.add_field(
        name="Issue type", value=clip(card.issue_type or "unclassified", 256), inline=True
    )
    embed.add_field(name="Confidence", value=f"{card.confidence:.2f}")
    embed.add_field(name="Sentiment / severity", value=f"{card.sentiment} / {card.severity}")
    if card.language:
        embed.add_field(name="Language", value=clip(card.language, 256))
    embed.add_field(
        name="Why escalated", value=clip(", ".join(card.reasons) or "—", FIELD_LIMIT), inline=False
    )
    if card.question:
        embed.add_field(name="Question", value=clip(card.question, FIELD_LIMIT), inline=False)
    if card.articles:
        lines = []
        for art in card.articles:
            title = link_text(clip(art.title, 80))
            link = f"[{title}]({art.url})" if art.url else title
            lines.append(f"{link} · {art.score:.2f}")
        embed.add_field(name="Articles", value=clip("\n".join(lines), FIELD_LIMIT), inline=False)
    if card.history:
        lines = [clip(h.line, 200) for h in card.history]
        embed.add_field(
            name="Earlier tickets", value=clip("\n".join(lines), FIELD_LIMIT), inline=False
        )
    if card.sentiment_card:
        embed.add_field(
            name="Sentiment card", value=clip(card.sentiment_card, FIELD_LIMIT), inline=False
        )
    if card.attempted_answer:
        embed.add_field(
            name="Attempted answer", value=clip(card.attempted_answer, FIELD_LIMIT), inline=False
        )
    transcript = transcript_text(view.get("transcript") or [])
    if transcript and len(transcript) <= TRANSCRIPT_INLINE_LIMIT:
        embed.add_field(name="Transcript", value=transcript, inline=False)
    elif transcript:
        embed.add_field(name="Transcript", value="Posted below in this thread.", inline=False)
    embed.set_footer(text=f"team: {card.team} · deskhand")
    return embed


def transcript_text(transcript: list[dict[str, Any]]) -> str:
    """The conversation so far, one speaker per line."""
    lines = []
    for turn in transcript:
        role = turn.get("author") or turn.get("role") or "?"
        text = str(turn.get("text") or "").strip()
        if text:
            lines.append(f"**{role}:** {text}")
    return "\n".join(lines)


def transcript_needs_followup(view: dict[str, Any]) -> bool:
    """Long transcripts go into the thread as follow-up messages instead of the embed."""
    return len(transcript_text(view.get("transcript") or [])) > TRANSCRIPT_INLINE_LIMIT


def staff_relay_text(name: str, text: str) -> str:
    """A staff reply as the member sees it: under the staff member's name."""
    return f"**{name} (staff):** {text}"


def member_relay_text(name: str, text: str) -> str:
    """A member follow-up as staff see it in the ticket thread."""
    return f"**{name} (member):** {text}"


SUGGESTION_HEADER = "**Suggested reply (not sent yet)**"


def suggestion_chunks(text: str) -> list[str]:
    """The suggested reply as staff see it in the ticket thread, split to Discord's limit."""
    return split_message(f"{SUGGESTION_HEADER}\n\n{text}")


def suggestion_outcome_text(action: str, staff_id: str | int, text: str) -> str:
    """The suggestion message once handled: who sent or ignored it (buttons removed)."""
    if action == "send":
        header = f"**Suggested reply — sent to the member by <@{staff_id}>**"
    else:
        header = f"**Suggested reply — ignored by <@{staff_id}>**"
    return f"{header}\n\n{clip(text, MESSAGE_LIMIT - len(header) - 2)}"
