"""One exception type for every knowledge-base failure a caller should show to a human."""

from __future__ import annotations


class KnowledgeError(Exception):
    """A clear, user-facing knowledge-base error (unknown id, bad argument, unreadable source)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class SetupError(RuntimeError):
    """A configuration or installation mistake the user fixes: shown as one line, exit code 2."""
