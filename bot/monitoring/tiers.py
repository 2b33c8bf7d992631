"""Member tiers for segments: VIP from settings, role-based tiers from settings, else standard."""

from __future__ import annotations

from typing import Any

from bot.contracts import Member


def member_tier(settings: Any, platform: str, member: Member) -> str:
    """The tier a decision is recorded under (`member_tiers` maps tier → role names or ids)."""
    if member.tier:
        return member.tier
    if settings.is_vip(platform, member.user_id):
        return "vip"
    roles = {r.lower() for r in member.roles}
    for tier, tier_roles in (settings.get("member_tiers") or {}).items():
        if roles & {str(r).lower() for r in tier_roles}:
            return str(tier)
    return "standard"
