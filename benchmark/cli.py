"""``dfmsd-bench``: the command-line entry point.

Subcommands live in :mod:`benchmark.commands`, one module each, discovered here; a module registers its
parser with ``register(subparsers)``. Errors the user can fix (bad config, missing file) are printed as
one line and exit with status 2; no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

import benchmark.commands as commands_pkg
from benchmark.config import ConfigError
from benchmark.errors import UserError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dfmsd-bench",
        description=(
            "Knowledge-distillation benchmark for object detection: DFMSD and its baselines "
            "(FGD, MGD, FKD, PKD, DMKD) on one harness with run records, sweeps, W&B and reports."
        ),
        epilog="Run 'dfmsd-bench COMMAND --help' for the options of a command.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands_pkg.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands_pkg.__name__}.{info.name}")
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        for line in exc.problems:
            print(f"error: {line}", file=sys.stderr)
        return 2
    except (UserError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # `python -m benchmark.cli`: use the package's module, not a second copy of it
    from benchmark.cli import main as package_main

    sys.exit(package_main())
