"""One module per ``dfmsd-bench`` subcommand; each defines ``register(subparsers) -> None`` and sets
``func`` (taking the parsed ``argparse.Namespace`` and returning an exit code) on its parser."""
