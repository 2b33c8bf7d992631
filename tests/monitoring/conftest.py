"""Monitoring fixtures: the admin-command app (roles configured) reused."""

from tests.admin.conftest import app  # noqa: F401
