"""Detectors for sensitive values in free text: each returns spans, checked (Luhn, mod-97) not guessed."""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass


@dataclass(frozen=True)
class Finding:
    """One sensitive value: its kind, where it is, and a placeholder that keeps its meaning."""

    kind: str  # card | iban | api_key | password | email | phone
    start: int
    end: int
    placeholder: str


# Well-known token shapes: providers publish these prefixes so scanners can find leaked keys.
_KEY_PATTERNS = [
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)",
    r"\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{8,}",
    r"\bwhsec_[A-Za-z0-9]{16,}",
    r"\bxox[abposr]-[A-Za-z0-9-]{8,}",
    r"\bxapp-[A-Za-z0-9-]{8,}",
    r"\bgh[pousr]_[A-Za-z0-9]{20,}",
    r"\bgithub_pat_[A-Za-z0-9_]{20,}",
    r"\bglpat-[A-Za-z0-9_-]{16,}",
    r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA)[0-9A-Z]{16}\b",
    r"\bAIza[0-9A-Za-z_-]{30,}",
    r"\bsk-(?:ant-|proj-)?[A-Za-z0-9_-]{20,}",
    r"\bnpm_[A-Za-z0-9]{30,}",
    r"\bSG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}",
    r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",  # JWT
    r"(?i:bearer)\s+(?P<v>[A-Za-z0-9._~+/-]{16,}=*)",
    r"[?&](?i:token|key|api_key|apikey|access_token|secret)=(?P<v>[^&\s]{8,})",
]
KEY_RES = [re.compile(p) for p in _KEY_PATTERNS]
# A candidate high-entropy token: long, no spaces, from the usual key alphabets.
TOKEN_RE = re.compile(r"(?<![\w/.@-])[A-Za-z0-9_+/=-]{24,}(?![\w/@-])")
PASSWORD_RE = re.compile(
    r"(?i)\b(?:password|passwd|passphrase|passcode|pwd|pw|pin)\b"
    r"(?:\s+(?:is|was|=|:|would be|will be|to)|\s*[:=])\s*(?:now\s+)?"
    r"([\"'`“‘]?)(?P<value>[^\s\"'`”’]+)\1"
)
EMAIL_RE = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
)
IBAN_RE = re.compile(r"\b[A-Z]{2}\d{2}(?:[ -]?[A-Z0-9]){11,30}\b")
CARD_RE = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
PHONE_RE = re.compile(r"(?<![\w+])(?:\+|00)?\(?\d[\d\s().-]{6,18}\d(?![\w])")
DATE_RE = re.compile(r"^\d{4}[-/.]\d{1,2}[-/.]\d{1,2}$|^\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}$")
# Words that follow "password is" in a question, not a password.
NOT_PASSWORDS = {
    "a", "an", "the", "not", "wrong", "incorrect", "correct", "right", "invalid", "expired",
    "too", "being", "there", "reset", "changed", "rejected", "missing", "lost", "forgotten",
    "blank", "empty", "required", "ok", "fine", "working", "broken", "same", "case", "weak",
    "strong", "long", "short", "saved", "stored", "my", "your", "it", "that", "this", "what",
    "how", "and", "or", "but", "so", "still", "never", "no", "yes", "field", "manager", "reset?",
    "change", "update", "set", "be", "is", "was", "of", "for", "in", "on", "when", "why",
}  # fmt: skip


def luhn_ok(digits: str) -> bool:
    """The card-number checksum: rules out order numbers and timestamps of the same length."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def iban_ok(iban: str) -> bool:
    """ISO 13616 mod-97 check: a real IBAN, not any code that starts with two letters."""
    moved = iban[4:] + iban[:4]
    try:
        number = int("".join(str(int(ch, 36)) for ch in moved))
    except ValueError:
        return False
    return number % 97 == 1


def entropy(text: str) -> float:
    """Shannon entropy in bits per character."""
    counts = Counter(text)
    return -sum(c / len(text) * math.log2(c / len(text)) for c in counts.values())


def looks_random(token: str) -> bool:
    """A generated secret: mixed letters and digits, no long runs of one class, high entropy."""
    core = token.strip("=")
    if len(core) < 24:
        return False
    if not (any(ch.isdigit() for ch in core) and any(ch.isalpha() for ch in core)):
        return False  # identifiers and words have no digits; numbers have no letters
    mixed_case = any(ch.islower() for ch in core) and any(ch.isupper() for ch in core)
    if not mixed_case and len(core) < 32:  # one-case hex needs more length to be a secret
        return False
    if re.fullmatch(r"[0-9a-f-]+", core) and len(core) in (32, 36):  # UUIDs are ids, not secrets
        return False
    return entropy(core) >= (3.6 if len(core) < 40 else 4.0)


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def find_sensitive(text: str) -> list[Finding]:
    """Every sensitive span in `text`, non-overlapping, strongest detector first."""
    found: list[Finding] = []
    taken: list[tuple[int, int]] = []

    def add(kind: str, start: int, end: int, placeholder: str) -> None:
        if any(start < e and s < end for s, e in taken):
            return
        taken.append((start, end))
        found.append(Finding(kind, start, end, placeholder))

    for key_re in KEY_RES:
        for m in key_re.finditer(text):
            span = m.span("v") if "v" in key_re.groupindex else m.span()
            add("api_key", *span, "[api key]")
    for m in PASSWORD_RE.finditer(text):
        value = m.group("value")
        if value.lower().rstrip(".,!?") in NOT_PASSWORDS:
            continue
        end = m.end("value")
        while end > m.start("value") + 1 and text[end - 1] in ".,!?;)":
            end -= 1  # sentence punctuation after a password is usually not part of it
        add("password", m.start("value"), end, "[password]")
    for m in IBAN_RE.finditer(text):
        compact = re.sub(r"[ -]", "", m.group())
        if 15 <= len(compact) <= 34 and iban_ok(compact):
            add("iban", m.start(), m.end(), f"[IBAN ending {compact[-4:]}]")
    for m in CARD_RE.finditer(text):
        digits = _digits(m.group())
        if 13 <= len(digits) <= 19 and luhn_ok(digits) and len(set(digits)) > 1:
            add("card", m.start(), m.end(), f"[card ending {digits[-4:]}]")
    for m in EMAIL_RE.finditer(text):
        add("email", m.start(), m.end(), "[email]")
    for m in PHONE_RE.finditer(text):
        raw = m.group().rstrip(").- ")
        digits = _digits(raw)
        plus = raw.startswith(("+", "00"))
        if not (7 <= len(digits) <= 15 if plus else 10 <= len(digits) <= 11):
            continue  # national numbers are 10-11 digits; longer runs are cards, ids, accounts
        if DATE_RE.match(raw.strip()) or re.fullmatch(r"[\d.]+", raw):  # dates, versions, IPs
            continue
        if not plus and raw.isdigit() and len(raw) < 10:
            continue  # a bare short number is more often an order or account id
        add("phone", m.start(), m.start() + len(raw), "[phone]")
    for m in TOKEN_RE.finditer(text):
        if looks_random(m.group()):
            add("api_key", m.start(), m.end(), "[api key]")
    return sorted(found, key=lambda f: f.start)
