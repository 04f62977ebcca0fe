"""CPU data pipeline throughput: our training batches (``data.protocol: mmdet``, :class:`~benchmark.run.loader.
TrainBatches`) against mmdet 3.3's own training data loader, on the same generated COCO-like JPEG files.

* files: ``images`` JPEGs (quality 90, smooth random content with shapes), half 640x480 and half 500x375 (COCO's
  two commonest sizes), with 3 boxes each, in a COCO-format folder made here;
* ours: ``CocoDetection`` under the mmdet protocol (decode with Pillow, keep-ratio resize to (1333, 800) on the
  uint8 pixels, boxes, flip) + the seeded aspect-grouped stream + ``TrainBatches`` with 0, 1 or 2 workers;
* mmdet: ``Runner.build_dataloader`` of mmdet's COCO training loader: ``CocoDataset`` (``filter_empty_gt``,
  ``min_size=32``) with ``LoadImageFromFile``, ``LoadAnnotations``, ``Resize(scale=(1333, 800), keep_ratio=True)``,
  ``RandomFlip(prob=0.5)``, ``PackDetInputs``; ``DefaultSampler(shuffle=True)``, ``AspectRatioBatchSampler``,
  ``pseudo_collate``, the same worker counts.

Both deliver what the model's preprocessing receives: uint8 (3, h, w) images of the same shapes plus boxes.
Every process computes on one thread (``torch.set_num_threads(1)``, ``cv2.setNumThreads(0)``). Per round and
worker count, each loader starts afresh, its first batch (worker start-up) is not timed, then ``batches`` batches
of 2 images are; the two pipelines alternate within a round, so load drifts hit both; ratios (ours / mmdet
images/s) are taken per round. Target: ratio >= 1.0.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.bench.timing import Spread

SIZES = ((480, 640), (375, 500))  # (h, w)
BATCH = 2  # images per batch (mmdet's per-GPU batch of the 1x/2x configs)
TARGET = 1.0


def write_coco_like(root: Path, images: int, *, seed: int = 0) -> Path:
    """``images`` JPEGs (alternating 640x480 / 500x375) with 3 boxes each and ``instances.json``; returns it."""
    from PIL import Image, ImageDraw

    g = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True, exist_ok=True)
    entries, anns = [], []
    for i in range(images):
        h, w = SIZES[i % len(SIZES)]
        coarse = Image.fromarray(g.integers(0, 256, (h // 16, w // 16, 3), dtype=np.uint8))
        img = coarse.resize((w, h), Image.BICUBIC)
        draw = ImageDraw.Draw(img)
        for k in range(3):
            x0, y0 = int(g.integers(0, w - 80)), int(g.integers(0, h - 80))
            bw, bh = int(g.integers(20, 80)), int(g.integers(20, 80))
            draw.rectangle([x0, y0, x0 + bw, y0 + bh], fill=tuple(int(c) for c in g.integers(0, 256, 3)))
            anns.append(
                {"id": len(anns) + 1, "image_id": i + 1, "category_id": 1 + k % 2, "bbox": [x0, y0, bw, bh],
                 "area": bw * bh, "iscrowd": 0}
            )  # fmt: skip
        name = f"{i:06d}.jpg"
        img.save(root / "images" / name, quality=90)
        entries.append({"id": i + 1, "file_name": name, "width": w, "height": h})
    ann = root / "instances.json"
    cats = [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]
    ann.write_text(json.dumps({"images": entries, "annotations": anns, "categories": cats}))
    return ann


def _ours(ann: Path, workers: int, seed: int) -> Iterator[Any]:
    import torch

    from benchmark.data.coco import CocoDetection
    from benchmark.data.protocol import Resize
    from benchmark.run.batches import BatchStream
    from benchmark.run.loader import TrainBatches

    dataset = CocoDetection(ann, ann.parent / "images", resize=Resize("mmdet", 1333, 800), filter_empty_gt=True)
    stream = BatchStream(
        len(dataset), BATCH, hflip=True, generator=torch.Generator().manual_seed(seed), groups=dataset.aspect_groups()
    )
    batches = TrainBatches(dataset, stream, workers=workers)
    try:
        while True:
            yield batches.next()
    finally:
        batches.close()


def _mmdet(ann: Path, workers: int, seed: int) -> Iterator[Any]:
    from mmengine.runner import Runner

    loader = Runner.build_dataloader(
        {
            "batch_size": BATCH,
            "num_workers": workers,
            "persistent_workers": workers > 0,  # mmdet's configs: workers live across epochs
            "sampler": {"type": "DefaultSampler", "shuffle": True},
            "batch_sampler": {"type": "AspectRatioBatchSampler"},
            "dataset": {
                "type": "CocoDataset",
                "ann_file": str(ann),
                "data_prefix": {"img": str(ann.parent / "images") + "/"},
                "metainfo": {"classes": ("a", "b")},
                "filter_cfg": {"filter_empty_gt": True, "min_size": 32},
                "pipeline": [
                    {"type": "LoadImageFromFile"},
                    {"type": "LoadAnnotations", "with_bbox": True},
                    {"type": "Resize", "scale": (1333, 800), "keep_ratio": True},
                    {"type": "RandomFlip", "prob": 0.5},
                    {"type": "PackDetInputs"},
                ],
            },
        },
        seed=seed,
    )
    while True:  # epochs of the finite DefaultSampler, one after another
        yield from loader


def _images_per_s(make: Callable[[], Iterator[Any]], batches: int) -> float:
    """Images per second over ``batches`` batches of a fresh loader, after its first (untimed) batch."""
    it = make()
    try:
        next(it)
        t0 = time.perf_counter()
        for _ in range(batches):
            next(it)
        return batches * BATCH / (time.perf_counter() - t0)
    finally:
        it.close()


def bench_data(*, quick: bool, workers: Sequence[int] = (0, 1, 2), images: int | None = None) -> dict[str, Any]:
    """``{"setting", "workers": {w: {"ours", "mmdet", "ratio"}}}`` (images/s spreads), or ``{"missing": reason}``."""
    try:
        import cv2
        from mmdet.utils import register_all_modules
    except ImportError as exc:
        return {"missing": f"mmdet is not installed ({exc}); bash scripts/install_mm.sh"}
    import torch

    register_all_modules(init_default_scope=True)
    torch.set_num_threads(1)
    cv2.setNumThreads(0)
    rounds, batches = (2, 8) if quick else (5, 24)
    images = images or (48 if quick else 96)
    out: dict[str, Any] = {
        "setting": {
            "images": images,
            "sizes": [f"{w}x{h}" for h, w in SIZES],
            "batch": BATCH,
            "rounds": rounds,
            "timed_batches": batches,
            "target": TARGET,
        },  # fmt: skip
        "workers": {},
    }
    with tempfile.TemporaryDirectory(prefix="dfmsd-bench-data-") as tmp:
        ann = write_coco_like(Path(tmp), images)
        ours, theirs = _ours(ann, 0, 0), _mmdet(ann, 0, 0)
        out["same_output"] = _same_kind(next(ours), next(theirs))
        ours.close()
        theirs.close()
        times: dict[int, dict[str, list[float]]] = {w: {"ours": [], "mmdet": []} for w in workers}
        for r in range(rounds):
            for w in workers:
                pair = [("ours", _ours), ("mmdet", _mmdet)]
                for name, make in pair if r % 2 == 0 else pair[::-1]:
                    times[w][name].append(_images_per_s(lambda m=make, w=w, r=r: m(ann, w, r), batches))
        for w, t in times.items():
            out["workers"][str(w)] = {
                "ours": Spread.of(t["ours"]).to_dict(),
                "mmdet": Spread.of(t["mmdet"]).to_dict(),
                "ratio": Spread.of([a / b for a, b in zip(t["ours"], t["mmdet"])]).to_dict(),
            }
    return out


def _same_kind(ours: Any, theirs: dict[str, Any]) -> str:
    """What both loaders hand over, checked on a first batch: uint8 (3, h, w) images with a valid mmdet scale."""
    shapes = [tuple(img.shape) for img in ours.images] + [tuple(img.shape) for img in theirs["inputs"]]
    dtypes = {str(img.dtype) for img in ours.images} | {str(img.dtype) for img in theirs["inputs"]}
    allowed = {(3, 800, 1067)}
    if dtypes != {"torch.uint8"} or not set(shapes) <= allowed:
        return f"DIFFERENT: dtypes {sorted(dtypes)}, shapes {sorted(set(shapes))}"
    return "uint8 (3, 800, 1067) images and boxes from both"


def format_data(result: dict[str, Any]) -> list[str]:
    """The report lines of :func:`bench_data`'s result."""
    if "missing" in result:
        return [f"data pipeline: missing: {result['missing']}"]
    s = result["setting"]
    lines = [
        f"data pipeline (CPU, 1 thread per process): {s['images']} generated JPEGs ({', '.join(s['sizes'])}), "
        f"mmdet protocol (1333, 800), batch {s['batch']}, {s['timed_batches']} timed batches per loader, "
        f"{s['rounds']} rounds; {result['same_output']}",
        f"{'workers':>7s} {'ours img/s':>16s} {'mmdet 3.3 img/s':>16s}  ours / mmdet (>= {s['target']:.1f})",
    ]
    for w, r in result["workers"].items():
        ours, theirs, ratio = Spread(**r["ours"]), Spread(**r["mmdet"]), Spread(**r["ratio"])
        flag = "ok" if ratio.median >= s["target"] else "UNDER"
        lines.append(
            f"{w:>7s} {ours.median:16.1f} {theirs.median:16.1f}  "
            f"{ratio.median:.2f} [{ratio.q1:.2f}-{ratio.q3:.2f}] {flag:>5s}"
        )
    return lines
