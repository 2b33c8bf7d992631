"""`persona ...`: how replies sound (tone, length, sign-off, name)."""

from __future__ import annotations

from admin_commands.contracts import CommandResult
from admin_commands.parsing import UsageError, clip
from admin_commands.registry import Context, command

CHOICES = {"tone": ("friendly", "neutral", "formal"), "length": ("short", "medium", "long")}
FREE = {"signoff": 200, "name": 40}
CLEAR = {"none", "off", "-", '""', "''"}


def persona_value(field: str, raw: str) -> str:
    """One persona field's value, validated (also used by `experiment start`)."""
    key, value = field.lower(), raw.strip()
    if key in CHOICES:
        value = value.lower()
        if value not in CHOICES[key]:
            raise UsageError(f"{key} must be one of {', '.join(CHOICES[key])}, not `{value}`.")
    elif key in FREE:
        if value.lower() in CLEAR:
            value = ""
        if len(value) > FREE[key]:
            raise UsageError(f"{key} is limited to {FREE[key]} characters.")
        if key == "name" and not value:
            raise UsageError("The bot needs a name.")
    else:
        raise UsageError(f"Unknown persona field `{key}`: use tone, length, signoff or name.")
    return value


@command(
    "persona show",
    "persona show",
    "How the bot's replies sound.",
    role="staff",
    examples=("persona show",),
)
def persona_show(ctx: Context, args: list[str]) -> CommandResult:
    """Current persona."""
    if args:
        raise UsageError("`persona show` takes no arguments.")
    persona = ctx.app.settings.persona()
    return ctx.ok(
        "Persona",
        "Change with `/deskhand persona set tone|length|signoff|name VALUE`.",
        fields=[(k, str(v) or "—") for k, v in persona.items()],
    )


@command(
    "persona set",
    "persona set tone|length|signoff|name VALUE",
    "Set tone (friendly|neutral|formal), length (short|medium|long), sign-off or name.",
    examples=("persona set tone formal", 'persona set signoff "— The Acme support team"'),
)
def persona_set(ctx: Context, args: list[str]) -> CommandResult:
    """Validate and store one persona field (audited)."""
    if len(args) < 2:
        raise UsageError("Give the field and its value.")
    key, value = args[0].lower(), persona_value(args[0], " ".join(args[1:]))
    stored = ctx.app.settings.get("persona") or {}
    before = ctx.app.settings.persona()[key]
    _, audit_id = ctx.set_setting("persona", {**stored, key: value})
    return ctx.ok(
        "Persona updated",
        f"{key}: {clip(before, 60) or '—'} → {clip(value, 60) or '—'}. Applies to the next reply. "
        f"Undo: `/deskhand audit undo {audit_id}`.",
    )
