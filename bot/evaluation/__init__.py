"""Offline evaluation harnesses: measure the bot's parts on public data, never on users' data."""
