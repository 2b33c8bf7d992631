"""Detectors as tables: each kind found with its checksum, look-alikes left alone."""

from __future__ import annotations

import pytest

from bot.privacy import redact
from bot.privacy.detect import iban_ok, luhn_ok

FOUND = [
    ("card 4111 1111 1111 1111 please", "card [card ending 1111] please", "card"),
    ("card 5500-0000-0000-0004", "card [card ending 0004]", "card"),
    ("IBAN GB82 WEST 1234 5698 7654 32.", "IBAN [IBAN ending 5432].", "iban"),
    ("DE89370400440532013000", "[IBAN ending 3000]", "iban"),
    ("key sk_live_51Hx9Qa8bC7dE6fG5hJ4kL3m", "key [api key]", "api_key"),
    ("xoxb-2048-4096-Zq8Rt5Yp3Wm here", "[api key] here", "api_key"),
    ("ghp_abcdefghijklmnopqrstuvwxyz0123456789", "[api key]", "api_key"),
    ("AKIAIOSFODNN7EXAMPLE", "[api key]", "api_key"),
    ("Authorization: Bearer abcdefghijklmnop1234", "Authorization: Bearer [api key]", "api_key"),
    ("https://x.example/cb?token=abcd1234efgh&x=1", "https://x.example/cb?token=[api key]&x=1", "api_key"),
    ("secret a8F3kLm92QzXv7TpR4sWn1Yb6Hc0JdEe ok", "secret [api key] ok", "api_key"),
    ("my password is hunter2.", "my password is [password].", "password"),
    ("Password: 'Tr0ub4dor&3'", "Password: '[password]'", "password"),
    ("my pin is 4921", "my pin is [password]", "password"),
    ("mail ann.lee+x@mail.example.org now", "mail [email] now", "email"),
    ("call +44 20 7946 0958", "call [phone]", "phone"),
    ("call me at (555) 123-4567", "call me at [phone]", "phone"),
]  # fmt: skip

LEFT_ALONE = [
    "order 123456789 shipped on 2024-01-02",
    "card 4111 1111 1111 1112 fails the checksum",
    "GB82 WEST 1234 5698 7654 33 is not a valid IBAN",
    "I forgot my password is there a way to reset it",
    "my password is not working",
    "my password is wrong",
    "version 1.2.3.4 on 192.168.10.100",
    "id 123e4567-e89b-12d3-a456-426614174000",
    "see https://docs.example.com/getting-started/install-guide-v2",
    "ExportDataToSpreadsheetsWithFilters is the feature",
]


@pytest.mark.parametrize(("text", "expected", "kind"), FOUND)
def test_each_kind_is_replaced_by_a_meaningful_placeholder(text, expected, kind):
    result = redact(text)
    assert result.text == expected
    assert kind in result.dropped + result.masked


@pytest.mark.parametrize("text", LEFT_ALONE)
def test_look_alikes_are_left_alone(text):
    assert redact(text).text == text


def test_policy_decides_drop_mask_or_keep():
    text = "card 4111111111111111, mail a@b.example"
    default = redact(text)
    assert (default.dropped, default.masked) == (("card",), ("email",))
    kept = redact(text, {"email": "keep", "card": "mask"})
    assert kept.text == "card [card ending 1111], mail a@b.example"
    assert (kept.dropped, kept.masked) == ((), ("card",))
    assert redact(text, {"card": "nonsense"}).dropped == ("card",)  # bad values fall back


def test_checksums():
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert iban_ok("GB82WEST12345698765432") and not iban_ok("GB82WEST12345698765433")
