"""Benchmark the per-level distillation losses and FGD's box-mask construction, side by side in one run.

Rows are named cases in groups; within a group the cases are timed interleaved (one repeat of each in turn, so
load drifts hit all of them alike) and their medians are compared against the group's first row:

* ``masks``: FGD's foreground/background masks on every level, vectorised (``baselines.fgd_masks``) vs a per-box loop
  (reference below, the official algorithm written as a plain loop); both are checked equal first.
* ``losses``: forward + backward of one method over the whole pyramid (one criterion per level, as the trainer
  builds them, options = the method's ``one_stage`` preset), student features requiring grad.

Defaults: batch 8, 256 channels, 800x1216 input at strides 8..128 (levels 100x152 .. 7x10), 20 boxes per image.
``--quick`` shrinks everything for a smoke run. Other methods add rows with :func:`loss_case`.

    .venv/bin/python scripts/bench_losses.py [--quick] [--device cuda] [--cases fgd,masks/loop] [--repeats 10]
        [--threads 1] [--batch 8] [--channels 256]
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from baselines.fgd_masks import background_weights, foreground_weights  # noqa: E402
from benchmark.distill.methods import get_method  # noqa: E402


@dataclass(frozen=True)
class Setting:
    batch: int = 8
    channels: int = 256
    input_hw: tuple[int, int] = (800, 1216)
    strides: tuple[int, ...] = (8, 16, 32, 64, 128)
    boxes_per_image: int = 20
    device: str = "cpu"
    seed: int = 0

    def level_sizes(self) -> list[tuple[int, int]]:
        return [(math.ceil(self.input_hw[0] / s), math.ceil(self.input_hw[1] / s)) for s in self.strides]


@dataclass
class Inputs:
    student: list[torch.Tensor]  # per level (N, C, H, W), requires grad
    teacher: list[torch.Tensor]
    gt_bboxes: list[torch.Tensor]
    img_metas: list[dict]


def make_inputs(st: Setting) -> Inputs:
    gen = torch.Generator().manual_seed(st.seed)
    pad_h, pad_w = st.input_hw
    metas, boxes = [], []
    for i in range(st.batch):  # every other image smaller than the padded batch, as after a keep-ratio resize
        h, w = (pad_h, pad_w) if i % 2 == 0 else (pad_h - 8 * (7 + i), pad_w - 16 * (3 + i))
        metas.append({"img_shape": (h, w, 3), "pad_shape": (pad_h, pad_w, 3)})
        xy = torch.rand(st.boxes_per_image, 2, generator=gen) * torch.tensor([w * 0.9, h * 0.9])
        wh = 8 + torch.rand(st.boxes_per_image, 2, generator=gen) * torch.tensor([w * 0.5, h * 0.5])
        x2y2 = torch.minimum(xy + wh, torch.tensor([float(w), float(h)]))
        boxes.append(torch.cat([xy, x2y2], dim=1).to(st.device))
    student, teacher = [], []
    for h, w in st.level_sizes():
        shape = (st.batch, st.channels, h, w)
        student.append(torch.randn(shape, generator=gen).to(st.device).requires_grad_(True))
        teacher.append(torch.randn(shape, generator=gen).to(st.device))
    return Inputs(student, teacher, boxes, metas)


@dataclass(frozen=True)
class Case:
    name: str
    group: str
    make: Callable[[Setting, Inputs], Callable[[], object]]  # -> one timed step
    repeat_factor: int = 1  # cheap cases run this many times more repeats (and warm-ups)


def loop_foreground_weights(
    gt_bboxes: list[torch.Tensor], img_metas: list[dict], height: int, width: int, *, dtype: torch.dtype
) -> torch.Tensor:
    """Per-box loop reference for FGD's ``Mask_fg`` (same math as the official loop; extents read once per
    image with ``tolist`` rather than one device sync per slice bound, so it is if anything faster)."""
    device = gt_bboxes[0].device
    mask = torch.zeros(len(gt_bboxes), height, width, dtype=dtype, device=device)
    for i, (boxes, meta) in enumerate(zip(gt_bboxes, img_metas)):
        img_h, img_w = meta["img_shape"][0], meta["img_shape"][1]
        wmin = torch.floor(boxes[:, 0] / img_w * width).int()
        wmax = torch.ceil(boxes[:, 2] / img_w * width).int()
        hmin = torch.floor(boxes[:, 1] / img_h * height).int()
        hmax = torch.ceil(boxes[:, 3] / img_h * height).int()
        area = 1.0 / (hmax + 1 - hmin) / (wmax + 1 - wmin)
        for h0, h1, w0, w1, a in zip(hmin.tolist(), hmax.tolist(), wmin.tolist(), wmax.tolist(), area.unbind()):
            cells = mask[i, h0 : h1 + 1, w0 : w1 + 1]
            mask[i, h0 : h1 + 1, w0 : w1 + 1] = torch.maximum(cells, a)
    return mask


def mask_case(name: str, build: Callable) -> Case:
    def make(st: Setting, inp: Inputs) -> Callable[[], object]:
        sizes = st.level_sizes()

        def step() -> object:
            return [background_weights(build(inp.gt_bboxes, inp.img_metas, h, w)) for h, w in sizes]

        return step

    return Case(f"masks/{name}", "masks", make, repeat_factor=10)


def _vectorised(boxes: list[torch.Tensor], metas: list[dict], h: int, w: int) -> torch.Tensor:
    return foreground_weights(boxes, metas, h, w, dtype=torch.float32, device=boxes[0].device)


def _loop(boxes: list[torch.Tensor], metas: list[dict], h: int, w: int) -> torch.Tensor:
    return loop_foreground_weights(boxes, metas, h, w, dtype=torch.float32)


def loss_case(method: str, kind: str = "one_stage") -> Case:
    """Forward + backward of ``method`` (its ``kind`` preset) over all levels, one criterion per level."""

    def make(st: Setting, inp: Inputs) -> Callable[[], object]:
        spec = get_method(method)
        criteria = [spec.build(st.channels, st.channels, spec.resolve_options(kind)).to(st.device) for _ in inp.student]
        gen = torch.Generator().manual_seed(st.seed)

        def step() -> object:
            for crit in criteria:
                crit.zero_grad(set_to_none=True)
            for s in inp.student:
                s.grad = None
            total = 0.0
            for crit, s, t in zip(criteria, inp.student, inp.teacher):
                total = total + sum(crit(s, t, inp.gt_bboxes, inp.img_metas, generator=gen).values())
            total.backward()
            return total

        return step

    return Case(f"loss/{method}", "losses", make)


CASES: list[Case] = [
    mask_case("vectorised", _vectorised),
    mask_case("loop", _loop),
    loss_case("fgd"),
    loss_case("mgd"),
    loss_case("fkd"),
    loss_case("pkd"),
    loss_case("dmkd"),
    loss_case("dfmsd"),
]


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def check_masks_agree(st: Setting, inp: Inputs) -> None:
    for h, w in st.level_sizes():
        fast, slow = _vectorised(inp.gt_bboxes, inp.img_metas, h, w), _loop(inp.gt_bboxes, inp.img_metas, h, w)
        if not torch.equal(fast, slow):
            raise SystemExit(f"vectorised and loop masks differ at level {h}x{w}")


def run(st: Setting, cases: list[Case], *, warmup: int, repeats: int) -> list[tuple[Case, list[float]]]:
    inp = make_inputs(st)
    check_masks_agree(st, inp)
    results = []
    groups: dict[str, list[Case]] = {}
    for case in cases:
        groups.setdefault(case.group, []).append(case)
    for group in groups.values():
        steps = [case.make(st, inp) for case in group]
        times: list[list[float]] = [[] for _ in group]
        factor = max(case.repeat_factor for case in group)
        for rep in range(factor * (warmup + repeats)):
            for i, step in enumerate(steps):  # interleaved: side by side under the same load
                _sync(st.device)
                t0 = time.perf_counter()
                step()
                _sync(st.device)
                if rep >= factor * warmup:
                    times[i].append(time.perf_counter() - t0)
        results.extend(zip(group, times))
        del steps
    return results


def report(results: list[tuple[Case, list[float]]]) -> None:
    print(f"{'case':<20} {'median ms':>11} {'p25..p75 ms':>21} {'min..max ms':>21} {'ratio':>16}")
    first: dict[str, float] = {}
    for case, times in results:
        med = statistics.median(times)
        q = statistics.quantiles(times, n=4) if len(times) > 1 else [med, med, med]
        base = first.setdefault(case.group, med)
        ref = next(c.name for c, _ in results if c.group == case.group)
        ratio = "" if base == med and case.name == ref else f"{med / base:.2f}x {ref.split('/')[-1]}"
        print(
            f"{case.name:<20} {med * 1e3:>11.2f} {q[0] * 1e3:>10.2f}..{q[2] * 1e3:<10.2f}"
            f"{min(times) * 1e3:>10.2f}..{max(times) * 1e3:<10.2f} {ratio:>16}"
        )
    meds = {c.name: statistics.median(t) for c, t in results}
    if "masks/loop" in meds and "masks/vectorised" in meds:
        speedup = meds["masks/loop"] / meds["masks/vectorised"]
        print(f"FGD masks: vectorised is {speedup:.1f}x faster than the per-box loop (target >= 3x)")
    if "loss/dfmsd" in meds and "loss/mgd" in meds:
        print(f"DFMSD forward+backward is {meds['loss/dfmsd'] / meds['loss/mgd']:.2f}x MGD (target <= 1.5x)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="batch 2, 64 channels, 400x608 input, 3 repeats")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--cases", default="", help="comma-separated case-name substrings (default: all)")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--warmup", type=int, default=None)
    parser.add_argument("--batch", type=int, default=None)
    parser.add_argument("--channels", type=int, default=None)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (1 is steadier on a busy box)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    st = Setting(batch=2, channels=64, input_hw=(400, 608)) if args.quick else Setting()
    st = Setting(
        batch=args.batch or st.batch,
        channels=args.channels or st.channels,
        input_hw=st.input_hw,
        strides=st.strides,
        boxes_per_image=st.boxes_per_image,
        device=args.device,
    )
    wanted = [w for w in args.cases.split(",") if w]
    cases = [c for c in CASES if not wanted or any(w in c.name for w in wanted)]
    if not cases:
        raise SystemExit(f"--cases {args.cases!r} matches none of: {', '.join(c.name for c in CASES)}")
    repeats = args.repeats or (3 if args.quick else 10)
    warmup = args.warmup if args.warmup is not None else (1 if args.quick else 2)
    device_name = (
        torch.cuda.get_device_name() if st.device.startswith("cuda") else f"cpu, {torch.get_num_threads()} threads"
    )
    print(
        f"batch {st.batch}, {st.channels} channels, input {st.input_hw[0]}x{st.input_hw[1]}, levels "
        f"{' '.join(f'{h}x{w}' for h, w in st.level_sizes())}, {st.boxes_per_image} boxes/image; "
        f"{device_name}; torch {torch.__version__}; median of {repeats} (masks: x10) after {warmup} warm-up"
    )
    report(run(st, cases, warmup=warmup, repeats=repeats))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
