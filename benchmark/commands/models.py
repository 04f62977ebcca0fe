"""``dfmsd-bench models``: the detector zoo as a table of model cards."""

from __future__ import annotations

import argparse
import json

from benchmark.config import to_plain


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "models",
        help="list the detector zoo (model cards)",
        description="List registered detectors: family, stages, FPN levels, parameters, FLOPs, weights.",
    )
    parser.add_argument("--json", action="store_true", help="print the cards as JSON instead of a table")
    parser.set_defaults(func=run)


def card_rows() -> list[dict[str, str]]:
    from benchmark.zoo import MODELS

    rows = []
    for name in MODELS.names():
        card = MODELS.get(name).card
        h, w = card.flops_input
        rows.append(
            {
                "name": name,
                "backend": card.backend,
                "family": card.family,
                "stages": str(card.stages),
                "levels (ch/stride)": " ".join(f"{lv.name}:{lv.channels}/{lv.stride}" for lv in card.levels),
                "params (M)": f"{card.params / 1e6:.2f}",
                f"GFLOPs @{h}x{w}": f"{card.flops / 1e9:.2f}",
                "notes": card.notes,
            }
        )
    return rows


def format_table(rows: list[dict[str, str]]) -> str:
    headers = list(rows[0])
    widths = [max(len(h), *(len(r[h]) for r in rows)) for h in headers]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(r[h].ljust(w) for h, w in zip(headers, widths)) for r in rows]
    return "\n".join(line.rstrip() for line in lines)


def run(args: argparse.Namespace) -> int:
    from benchmark.zoo import MODELS

    if args.json:
        print(json.dumps([to_plain(MODELS.get(n).card) for n in MODELS.names()], indent=2))
        return 0
    print(format_table(card_rows()))
    weights = {MODELS.get(n).card.weights for n in MODELS.names()}
    print("\nweights: " + "; ".join(sorted(weights)))
    print("FLOPs: one inference forward, multiply-add = 2 FLOPs (benchmark/zoo/measure.py)")
    return 0
