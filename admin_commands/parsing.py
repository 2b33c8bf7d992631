"""Tokenising and argument helpers shared by every handler; errors carry the text users see."""

from __future__ import annotations

import html
import re
import shlex
from collections.abc import Set

SMART_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "‘": "'", "’": "'"})
SLACK_CHANNEL = re.compile(r"^<#([A-Z0-9]+)(?:\|[^>]*)?>$")
DISCORD_CHANNEL = re.compile(r"^<#(\d+)>$")
USER_MENTION = re.compile(r"^<@[!&]?([A-Za-z0-9]+)(?:\|[^>]*)?>$")
SLACK_GROUP = re.compile(r"^<!subteam\^([A-Z0-9]+)(?:\|[^>]*)?>$")
BARE_ID = re.compile(r"^(?:[CGDU][A-Z0-9]{6,}|\d{15,21})$")


class UsageError(ValueError):
    """Bad or missing arguments: the user gets this message and the command's usage line."""


class CommandError(ValueError):
    """A well-formed command that cannot be done (unknown id, conflict): message only."""


def tokenize(text: str) -> list[str]:
    """Split like a shell, but only double quotes group words so "don't" stays one word."""
    text = text.translate(SMART_QUOTES).strip()
    lexer = shlex.shlex(text, posix=True)
    lexer.whitespace_split = True
    lexer.quotes = '"'
    lexer.escape = ""
    lexer.commenters = ""
    try:
        tokens = list(lexer)
    except ValueError:
        raise UsageError('A double quote (") is not closed.') from None
    return [html.unescape(t) if not t.startswith("<") else t for t in tokens]


def parse_flags(
    args: list[str],
    valued: Set[str] = frozenset(),
    switches: Set[str] = frozenset(),
) -> tuple[list[str], dict[str, str | bool]]:
    """Split `--name value` options and `--switch` flags from positional words."""
    positional: list[str] = []
    flags: dict[str, str | bool] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if arg.startswith("--") and len(arg) > 2:
            name, eq, inline = arg[2:].partition("=")
            if name in switches and not eq:
                flags[name] = True
            elif name in valued:
                if eq:
                    flags[name] = inline
                elif i + 1 < len(args):
                    i += 1
                    flags[name] = args[i]
                else:
                    raise UsageError(f"`--{name}` needs a value.")
            else:
                known = ", ".join(f"--{n}" for n in sorted(valued | switches)) or "none"
                raise UsageError(f"Unknown option `{arg}` (options: {known}).")
        else:
            positional.append(arg)
        i += 1
    return positional, flags


def channel_id(token: str) -> str | None:
    """A channel id from a Slack `<#C123|name>` / Discord `<#123>` mention, `#ID` or a bare id."""
    for pattern in (SLACK_CHANNEL, DISCORD_CHANNEL):
        match = pattern.match(token)
        if match:
            return match.group(1)
    if token.startswith("#") and BARE_ID.match(token[1:]):
        return token[1:]
    if BARE_ID.match(token):
        return token
    return None


def is_channel_ref(token: str) -> bool:
    """True for anything that looks like a channel argument (so handlers can reject bad ones)."""
    return token.startswith("#") or token.startswith("<#") or channel_id(token) is not None


def pop_channel(args: list[str], default: str) -> tuple[list[str], str]:
    """Remove a trailing channel argument; fall back to `default` (the caller's channel)."""
    if args and is_channel_ref(args[-1]):
        found = channel_id(args[-1])
        if found is None:
            raise UsageError(
                f"`{args[-1]}` is not a channel I can resolve: mention it (#channel "
                "autocompletes) or give its id."
            )
        return args[:-1], found
    return args, default


def user_ref(token: str) -> str | None:
    """A user/role/group id from `<@U123>`, `<@!123>`, `<@&123>`, `<!subteam^S1>` or a bare id."""
    for pattern in (USER_MENTION, SLACK_GROUP):
        match = pattern.match(token)
        if match:
            return match.group(1)
    if BARE_ID.match(token) or re.match(r"^[US][A-Z0-9]{6,}$", token):
        return token
    return None


def parse_unit(value: str, name: str) -> float:
    """A number from 0 to 1 (also accepts percentages like 72%)."""
    text = value.strip()
    try:
        number = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise UsageError(f"{name} must be a number from 0 to 1, got `{value}`.") from None
    if not 0.0 <= number <= 1.0 or number != number:
        raise UsageError(f"{name} must be between 0 and 1, got `{value}`.")
    return round(number, 4)


def parse_int(value: str, name: str, low: int = 1, high: int = 10_000) -> int:
    """A whole number in a range."""
    try:
        number = int(value.lstrip("#"))
    except ValueError:
        raise UsageError(f"{name} must be a whole number, got `{value}`.") from None
    if not low <= number <= high:
        raise UsageError(f"{name} must be between {low} and {high}, got {number}.")
    return number


def parse_days(flags: dict[str, str | bool], default: int) -> int:
    """`--days N` (or `Nd`), one day to a year."""
    return parse_int(str(flags.get("days", default)).rstrip("d"), "--days", 1, 365)


def clip(text: str, limit: int = 80) -> str:
    """Shorten for one-line display."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
