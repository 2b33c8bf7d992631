"""Safety lint for article text: injected instructions, credential requests, outside links."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

INSTRUCTIONS = re.compile(
    r"(?i)\b(?:ignore|disregard|forget|override)\s+(?:all\s+|any\s+|the\s+|your\s+)?"
    r"(?:previous|prior|above|earlier|preceding|system)\s+(?:instructions?|prompts?|rules?|messages?)"
    r"|\byou are now\b|\bact as (?:an?|the) (?!member)|\bsystem prompt\b"
    r"|\b(?:tell|instruct|ask) (?:the )?(?:users?|members?|customers?) to (?:send|email|e-mail|share|give)"
)
CREDENTIALS = re.compile(
    r"(?i)\b(?:send|email|e-mail|mail|share|give|tell|reply with|dm|post)\b[^.\n]{0,40}?"
    r"\b(?:password|passcode|pin|2fa code|one-time code|otp|backup codes?|api key|secret key|"
    r"token|card number|cvv|cvc|security code|seed phrase|recovery phrase)s?\b"
)
URL = re.compile(r"https?://([A-Za-z0-9.-]+)", re.I)
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)")


@dataclass(frozen=True)
class LintFinding:
    """One reason an article should be looked at before members see it."""

    kind: str  # instruction | credential_request | outside_link | outside_email
    excerpt: str

    def __str__(self) -> str:
        return f"{self.kind.replace('_', ' ')}: “{self.excerpt}”"


def _allowed(host: str, domains: Iterable[str]) -> bool:
    host = host.lower().rstrip(".")
    return any(
        host == d or host.endswith("." + d) for d in (x.lower().strip() for x in domains) if d
    )


def _excerpt(text: str, start: int, end: int) -> str:
    return text[max(0, start - 20) : min(len(text), end + 20)].replace("\n", " ").strip()


def lint_text(text: str, allowed_domains: Iterable[str] | None = None) -> list[LintFinding]:
    """Findings in one article body (links and addresses only when allowed_domains is given)."""
    found = [
        LintFinding("instruction", _excerpt(text, *m.span())) for m in INSTRUCTIONS.finditer(text)
    ]
    found += [
        LintFinding("credential_request", _excerpt(text, *m.span()))
        for m in CREDENTIALS.finditer(text)
        if not re.search(
            r"(?i)\bnever\b|\bnot\b|\bwon't\b|\bdon't\b", text[max(0, m.start() - 40) : m.start()]
        )
    ]
    domains = [d for d in (allowed_domains or []) if d]
    if domains:
        found += [
            LintFinding("outside_link", m.group(0))
            for m in URL.finditer(text)
            if not _allowed(m.group(1), domains)
        ]
        found += [
            LintFinding("outside_email", m.group(0))
            for m in EMAIL.finditer(text)
            if not _allowed(m.group(1), domains)
        ]
    return found


def lint_article(
    title: str, body: str, url: str = "", allowed: Iterable[str] | None = None
) -> list[LintFinding]:
    """Findings in an article's title, body and source link."""
    return lint_text("\n".join(x for x in (title, body, url) if x), allowed)
