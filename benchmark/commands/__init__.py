"""One module per ``dfmsd-bench`` subcommand; each defines ``register(subparsers) -> None`` and sets
``func`` (taking the parsed ``argparse.Namespace`` and returning an exit code) on its parser."""

from __future__ import annotations

import argparse


class _TrailingOverridesParser(argparse.ArgumentParser):
    """Lets ``key=value`` overrides follow the options too (argparse fills a ``*`` positional only once)."""

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        ns, extras = super().parse_known_args(args, namespace)
        trailing = [a for a in extras if "=" in a and not a.startswith("-")]
        if trailing:
            ns.overrides = [*getattr(ns, "overrides", []), *trailing]
        return ns, [a for a in extras if a not in trailing]


def overrides_anywhere(parser: argparse.ArgumentParser) -> None:
    """``key=value`` overrides are accepted anywhere after the config/sweep file (before or after options)."""
    parser.__class__ = _TrailingOverridesParser
