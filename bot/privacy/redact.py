"""Apply the privacy policy to text: each kind is dropped, masked or kept, per runtime settings."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.privacy.detect import find_sensitive

KINDS = ("card", "iban", "api_key", "password", "email", "phone")
POLICIES = ("drop", "mask", "keep")
SECRET_KINDS = ("card", "iban", "api_key", "password")
DEFAULT_POLICY: dict[str, str] = {
    "card": "drop",
    "iban": "drop",
    "api_key": "drop",
    "password": "drop",
    "email": "mask",
    "phone": "mask",
}
LABELS = {
    "card": "a card number",
    "iban": "a bank account number (IBAN)",
    "api_key": "an API key or token",
    "password": "a password",
    "email": "an e-mail address",
    "phone": "a phone number",
}


@dataclass(frozen=True)
class Redaction:
    """The text as it may be kept, and what was taken out of it (kinds only, never values)."""

    text: str
    masked: tuple[str, ...] = ()  # kinds replaced by a placeholder
    dropped: tuple[str, ...] = ()  # kinds treated as leaked secrets: placeholder + warn + delete
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        """True when anything was replaced."""
        return bool(self.masked or self.dropped)


def effective_policy(stored: dict[str, str] | None) -> dict[str, str]:
    """Defaults overlaid with the stored per-kind choices (unknown kinds and values ignored)."""
    policy = dict(DEFAULT_POLICY)
    for kind, choice in (stored or {}).items():
        if kind in policy and choice in POLICIES:
            policy[kind] = choice
    return policy


def redact(text: str, policy: dict[str, str] | None = None) -> Redaction:
    """Replace every sensitive value whose kind is not `keep` with a meaning-keeping placeholder."""
    if not text:
        return Redaction(text)
    policy = effective_policy(policy)
    findings = [f for f in find_sensitive(text) if policy[f.kind] != "keep"]
    if not findings:
        return Redaction(text)
    parts, last = [], 0
    counts: dict[str, int] = {}
    for f in findings:
        parts += [text[last : f.start], f.placeholder]
        last = f.end
        counts[f.kind] = counts.get(f.kind, 0) + 1
    parts.append(text[last:])
    kinds = sorted(counts)
    return Redaction(
        "".join(parts),
        masked=tuple(k for k in kinds if policy[k] == "mask"),
        dropped=tuple(k for k in kinds if policy[k] == "drop"),
        counts=counts,
    )


def rotation_notice(kinds: tuple[str, ...]) -> str:
    """The private note to a member who posted a secret where others can read it."""
    what = ", ".join(LABELS[k] for k in kinds if k in LABELS) or "something secret"
    return (
        f"Heads-up: your message contained {what}. I did not keep it (my records show a "
        "placeholder) and I delete the message where I'm allowed to; otherwise please delete it "
        "yourself. Others in the channel may already have seen it, so treat it as exposed: "
        "cancel or rotate it now (new card, new key or token, new password)."
    )
