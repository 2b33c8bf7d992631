"""Abuse controls: rate limits with a cooldown, a block list, flood notes, one card per member."""

from bot.abuse.gate import AbuseGate, Held

__all__ = ["AbuseGate", "Held"]
