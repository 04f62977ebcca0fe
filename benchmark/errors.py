"""Errors a user can fix (a bad path, a bad value): printed by the CLI as one line, exit status 2.

Kept free of heavy imports so that every command, ``status`` included, starts without loading torch.
"""

from __future__ import annotations


class UserError(Exception):
    """An error caused by the user's input; the message names the file, key or value."""
