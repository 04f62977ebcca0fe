"""``dfmsd-bench eval RUN_DIR_OR_CHECKPOINT``: COCO metrics of a finished run's weights or of a checkpoint."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from benchmark.config import DataConfig, EvalConfig, ModelConfig


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="evaluate a run's final weights (or a checkpoint) on the test split",
        description=(
            "Evaluate TARGET: a run directory (its checkpoints/model_final.pt, model and data from its "
            "config.yaml) or a checkpoint file (model from --model or from the checkpoint's card; data from "
            "--data). Prints the 12 COCO metrics."
        ),
    )
    parser.add_argument("target", type=Path, help="run directory or .pt checkpoint")
    parser.add_argument("--model", help="model name (checkpoint files without a card, or to override)")
    parser.add_argument("--data", choices=("neon", "synthetic", "coco"), help="dataset (default: the run's, or neon)")
    parser.add_argument("--data-root", help="dataset folder (coco: required; neon: prepared folder)")
    parser.add_argument("--input-size", type=int, help="longest image side in pixels (default: the run's, or 400)")
    parser.add_argument(
        "--split",
        choices=("test", "val", "train"),
        default="test",
        help="which split (default: test; val: the run config's validation split)",
    )
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    parser.add_argument("--json", action="store_true", help="print the metrics as JSON")
    parser.set_defaults(func=run)


def _resolve(args: argparse.Namespace) -> tuple[ModelConfig, DataConfig, EvalConfig]:

    from benchmark.checkpoints import load_torch_file
    from benchmark.errors import UserError
    from benchmark.run.record import RunRecord

    target: Path = args.target
    if target.is_dir():
        record = RunRecord(target)
        cfg = record.load_config()
        if not record.final_weights.is_file():
            raise UserError(f"{target}: no checkpoints/model_final.pt (state: {record.state}); is the run done?")
        model = dataclasses.replace(cfg.model, checkpoint=str(record.final_weights))
        data, eval_cfg = cfg.data, cfg.eval
    elif target.is_file():
        state = load_torch_file(target)
        card = state.get("card") if isinstance(state, dict) else None
        options = state.get("options") or {} if isinstance(state, dict) and card else {}
        name = args.model or card
        if not name:
            raise UserError(f"{target}: the checkpoint names no model card: pass --model NAME")
        options = options if name == card else {}
        model = ModelConfig(name=name, options=dict(options), checkpoint=str(target))
        data, eval_cfg = DataConfig(), EvalConfig()
    else:
        raise FileNotFoundError(f"no run directory or checkpoint at {target}")
    if args.model and target.is_dir():
        model = dataclasses.replace(model, name=args.model)
    changes = {}
    if args.data:
        changes["dataset"] = args.data
    if args.data_root:
        changes["root"] = args.data_root
    if args.input_size:
        changes["input_size"] = args.input_size
    return model, dataclasses.replace(data, **changes), eval_cfg


def evaluate_target(args: argparse.Namespace) -> tuple[dict[str, float], float]:
    from benchmark.data import build_dataset
    from benchmark.run.evaluate import evaluate
    from benchmark.run.train import resolve_device
    from benchmark.zoo import build_detector

    model_cfg, data_cfg, eval_cfg = _resolve(args)
    dataset = build_dataset(data_cfg, args.split)
    device = resolve_device(args.device)
    try:
        detector = build_detector(model_cfg, num_classes=dataset.num_classes).to(device)
    except ValueError as exc:  # a checkpoint that does not fit the model
        from benchmark.errors import UserError

        raise UserError(str(exc)) from None
    return evaluate(detector, dataset, eval_cfg, device)


def run(args: argparse.Namespace) -> int:
    from benchmark.run.evaluate import METRIC_NAMES

    metrics, seconds = evaluate_target(args)
    if args.json:
        print(json.dumps({**{k: metrics[k] for k in METRIC_NAMES}, "infer_time_s": seconds}, indent=2))
        return 0
    for key in METRIC_NAMES:
        print(f"{key:6s} {metrics[key]:.4f}")
    print(f"{seconds * 1000:.1f} ms per image")
    return 0
