"""Slack text hygiene: member input in, safe mrkdwn out (no injected mentions, links or pings)."""

from __future__ import annotations

import re

_ANGLE = re.compile(r"<([^<>]+)>")
_BOLD = re.compile(r"\*\*(.+?)\*\*")


def escape(text: str) -> str:
    """Escape the three control characters Slack parses, so text renders literally."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str) -> str:
    """Undo Slack's entity encoding of &, < and > in event text."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _plain_token(match: re.Match[str]) -> str:
    """Turn one Slack control sequence (<@U1>, <!here>, <#C1|name>, <url|label>) into plain text."""
    body = match.group(1)
    target, _, label = body.partition("|")
    if target.startswith("@"):
        return "@" + (label or target[1:])
    if target.startswith("#"):
        return "#" + (label or target[1:])
    if target.startswith("!"):
        name = target[1:].split("^")[0]
        return "@" + (label.lstrip("@") if label else name)
    return f"{label} ({target})" if label and label != target else target


def to_plain(text: str, strip_user: str = "") -> str:
    """Slack event text as plain words: the bot's own mention removed, others spelled out."""
    if strip_user:
        text = re.sub(rf"<@{re.escape(strip_user)}(\|[^>]*)?>", " ", text)
    text = _ANGLE.sub(_plain_token, text)
    return re.sub(r"[ \t]+", " ", unescape(text)).strip()


def mentions(text: str, user_id: str) -> bool:
    """True when raw Slack text mentions `user_id`."""
    return bool(user_id) and re.search(rf"<@{re.escape(user_id)}(\|[^>]*)?>", text) is not None


def safe_mrkdwn(text: str) -> str:
    """Escape untrusted text for mrkdwn, keeping Markdown bold as Slack bold."""
    return _BOLD.sub(r"*\1*", escape(text))


def link(url: str, title: str) -> str:
    """A Slack link to an http(s) URL, or just the escaped title for anything else."""
    label = escape(title.replace("|", "¦")) or escape(url)
    if not re.match(r"^https?://[^\s<>|]+$", url or ""):
        return label
    return f"<{escape(url)}|{label}>"


def truncate(text: str, limit: int) -> str:
    """Cut text to a Slack field limit with an ellipsis."""
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"


def chunks(text: str, size: int = 2900) -> list[str]:
    """Split long text on line boundaries into pieces a section block accepts."""
    out: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > size:
            if current:
                out.append(current)
                current = ""
            out.append(line[:size])
            line = line[size:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > size:
            out.append(current)
            current = line
        else:
            current = candidate
    if current or not out:
        out.append(current)
    return out
