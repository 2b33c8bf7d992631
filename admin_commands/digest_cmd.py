"""`digest [post] | digest set …`: the weekly review on demand, and when and where it is posted."""

from __future__ import annotations

from typing import Any

from admin_commands.contracts import CommandResult
from admin_commands.parsing import UsageError, channel_id
from admin_commands.registry import Context, command
from bot.charts_extra import with_chart_note
from bot.monitoring.charts import render_chart
from bot.monitoring.digest import digest_settings, record_digest, weekly_digest

PLATFORMS = ("slack", "discord")


@command(
    "digest",
    "digest [post]",
    "The weekly review: scorecard vs last week, rising issue types, unanswered clusters, worst "
    "and stalest articles, CSAT by AI use, three suggested actions; `post` sends it to the "
    "digest channel now.",
    role="staff",
    examples=("digest", "digest post"),
)
def digest_command(ctx: Context, args: list[str]) -> CommandResult:
    """Build the digest now; show it to the caller, or record it for every platform's channel."""
    if args not in ([], ["post"]):
        raise UsageError("`digest` takes nothing, or `post` to send it to the digest channel.")
    digest = weekly_digest(ctx.app.engine)
    if args == ["post"]:
        record_digest(ctx.app, digest)
        return ctx.ok("Digest queued", "It is posted to the digest channel within a minute.")
    png = render_chart(digest.chart)
    return ctx.ok(
        digest.title,
        with_chart_note(digest.text(), png),
        fields=digest.fields(),
        table=digest.table,
        image_png=png,
        image_name="deskhand-digest.png",
    )


@command(
    "digest set",
    "digest set day mon|…|sun | time HH:MM | timezone ZONE | channel PLATFORM #channel | on | off",
    "When and where the weekly digest is posted (default Monday 09:00 UTC, staff channel).",
    examples=(
        "digest set day fri",
        "digest set time 16:30",
        "digest set channel slack #support-leads",
    ),
)
def digest_set(ctx: Context, args: list[str]) -> CommandResult:
    """Validate, store (audited) and say how to undo."""
    stored: dict[str, Any] = dict(ctx.app.settings.get("digest") or {})
    words = [a.lower() for a in args]
    if words in (["on"], ["off"]):
        stored["enabled"] = words == ["on"]
        what = "Weekly digest " + ("on" if stored["enabled"] else "off")
    elif len(args) == 2 and words[0] in ("day", "time", "timezone"):
        stored[words[0]] = args[1] if words[0] == "timezone" else words[1]
        what = f"Digest {words[0]}: {args[1]}"
    elif len(args) == 3 and words[0] == "channel" and words[1] in PLATFORMS:
        target = channel_id(args[2])
        if not target:
            raise UsageError("Give the digest channel as #channel.")
        stored["channels"] = {**(stored.get("channels") or {}), words[1]: target}
        what = f"Digest channel on {words[1]}: {args[2]}"
    else:
        raise UsageError(
            "Give `day DAY`, `time HH:MM`, `timezone ZONE`, `channel PLATFORM #channel`, `on` or `off`."
        )
    try:
        digest_settings(stored)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    _, audit_id = ctx.set_setting("digest", stored)
    return ctx.ok("Digest updated", f"{what}. Undo: `/deskhand audit undo {audit_id}`.")
