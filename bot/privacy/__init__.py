"""Privacy at the edge: redact secrets and contact details before anything is kept or sent on."""

from bot.privacy.detect import Finding, find_sensitive
from bot.privacy.redact import (
    DEFAULT_POLICY,
    KINDS,
    POLICIES,
    SECRET_KINDS,
    Redaction,
    redact,
)

__all__ = [
    "DEFAULT_POLICY",
    "KINDS",
    "POLICIES",
    "SECRET_KINDS",
    "Finding",
    "Redaction",
    "find_sensitive",
    "redact",
]
