"""Who may run what: admin (everything), staff (desk work, candidates, stats, search), member (help).

The rule itself lives in bot.policy (one rule for commands, buttons and staff threads).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from admin_commands.contracts import Caller, Role
from bot.policy import RANK, at_least

if TYPE_CHECKING:  # bot.app imports the core modules
    from bot.app import Deskhand


def role_of(app: Deskhand, caller: Caller) -> Role:
    """The caller's role from config (env) and chat-granted settings (the policy's one rule).

    On the console the operator at the terminal is admin; a simulated visitor is a member.
    """
    return app.policy.role_of(caller.as_actor())


def allowed(role: str, needed: str) -> bool:
    """True when `role` is at least `needed`."""
    return at_least(role, needed)


__all__ = ["RANK", "allowed", "role_of"]
