"""The `/deskhand` admin command layer: one grammar and handlers shared by Slack, Discord, console."""

from __future__ import annotations

from admin_commands.contracts import (
    Caller,
    CommandButton,
    CommandResult,
    ModalField,
    ModalSpec,
    Role,
)
from admin_commands.dispatch import run_command, run_command_form, run_press
from admin_commands.permissions import role_of

__all__ = [
    "Caller",
    "CommandButton",
    "CommandResult",
    "ModalField",
    "ModalSpec",
    "Role",
    "role_of",
    "run_command",
    "run_command_form",
    "run_press",
]
