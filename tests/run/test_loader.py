"""Background data loading (``train.num_workers``): the seeded stream decides, the workers only load, so 0 and N
workers give the same batches and train the same run bit for bit, and a run resumes exactly (with another worker
count too), with the teacher-feature cache in use. DDP with a worker: tests/run/test_distributed.py."""

from __future__ import annotations

import dataclasses
import json
import multiprocessing

import numpy as np
import pytest
import torch
from PIL import Image

from benchmark.config import TeacherConfig
from benchmark.data.coco import CocoDetection
from benchmark.data.protocol import Resize
from benchmark.run.batches import BatchStream
from benchmark.run.distributed import DistContext
from benchmark.run.loader import TrainBatches
from benchmark.run.record import RunRecord
from benchmark.run.resolve import run_id
from benchmark.run.train import RunStopped, train_run
from benchmark.run.validate import problems

from .conftest import FRCNN
from .test_train import _assert_same_weights, _curves


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> CocoDetection:
    """Nine images of three shapes under the mmdet protocol (uint8 samples, two aspect groups)."""
    root = tmp_path_factory.mktemp("mixed")
    g = np.random.default_rng(0)
    images, anns = [], []
    for i, (h, w) in enumerate([(48, 64), (64, 48), (40, 40)] * 3):
        Image.fromarray(g.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(root / f"{i}.png")
        images.append({"id": i + 1, "file_name": f"{i}.png", "width": w, "height": h})
        anns.append({"id": i + 1, "image_id": i + 1, "category_id": 1, "bbox": [4, 4, 20, 16], "area": 320})
    data = {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "x"}]}
    (root / "a.json").write_text(json.dumps(data))
    return CocoDetection(root / "a.json", root, resize=Resize("mmdet", 96, 64), filter_empty_gt=True)


def _batches(dataset, workers, n, *, state=None, rank=0):
    stream = BatchStream(len(dataset), 4, hflip=True, generator=torch.Generator().manual_seed(1),
                         groups=dataset.aspect_groups())  # fmt: skip
    loader = TrainBatches(dataset, stream, dist=DistContext(rank, 2, rank), workers=workers, prefetch_factor=3)
    if state is not None:
        loader.load_state_dict(state)
    out = [loader.next() for _ in range(n)]
    saved = loader.state_dict()
    loader.close()
    return out, saved


def _same(a, b):
    assert [x.image_ids for x in a] == [y.image_ids for y in b] and [x.hflips for x in a] == [y.hflips for y in b]
    for x, y in zip(a, b):
        assert all(torch.equal(i, j) for i, j in zip(x.images, y.images))
        assert all(torch.equal(s["boxes"], t["boxes"]) and torch.equal(s["labels"], t["labels"])
                   for s, t in zip(x.targets, y.targets))  # fmt: skip


def test_workers_load_what_the_stream_decided_and_resume_where_training_stopped(dataset):
    ref, _ = _batches(dataset, 0, 10, rank=1)
    assert all(len(b.images) == 2 and b.images[0].dtype == torch.uint8 for b in ref)  # this rank's half of 4
    assert all(len({img.shape[-1] < img.shape[-2] for img in b.images}) == 1 for b in ref)  # one aspect group
    got, _ = _batches(dataset, 2, 10, rank=1)
    _same(ref, got)
    # after 4 batches the workers have loaded ahead; the saved state is the one after batch 4 nevertheless
    first, state = _batches(dataset, 2, 4, rank=1)
    rest, _ = _batches(dataset, 1, 6, state=state, rank=1)
    _same(ref, first + rest)
    direct = _batches(dataset, 0, 4, rank=1)[1]
    assert torch.equal(state.pop("generator"), direct.pop("generator")) and state == direct
    assert not multiprocessing.active_children()  # close() stopped the workers


def test_workers_are_a_valid_option_and_not_part_of_the_id(make_run):
    cfg = make_run(num_workers=2)
    assert not problems(cfg) and run_id(cfg) == run_id(make_run())
    keys = [k for k, _ in problems(make_run(num_workers=-1, prefetch_factor=0))]
    assert keys == ["train.num_workers", "train.prefetch_factor"]


def test_zero_and_two_workers_train_bit_identically_and_resume_exactly(tmp_path, make_run, teacher_ckpts):
    """mimic with the teacher-feature cache (the synthetic images share one size: the cache is exact and used)."""
    teacher = TeacherConfig(model=FRCNN, checkpoint=str(teacher_ckpts["frcnn"]))
    cfg = make_run("mimic", teacher=teacher, device="cpu")
    train_run(cfg, tmp_path / "w0" / "runs" / "r", progress=False)
    workers = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, num_workers=2))
    train_run(workers, tmp_path / "w2" / "runs" / "r", progress=False)
    for out in ("w0", "w2"):
        assert "teacher features: cache" in RunRecord(tmp_path / out / "runs" / "r").read_log()
    _assert_same_weights(tmp_path / "w0" / "runs" / "r", tmp_path / "w2" / "runs" / "r")
    assert _curves(tmp_path / "w0" / "runs" / "r") == _curves(tmp_path / "w2" / "runs" / "r")

    cut = tmp_path / "cut" / "runs" / "r"
    with pytest.raises(RunStopped, match="at iteration 3"):
        train_run(workers, cut, progress=False, stop_after=3)
    one = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, num_workers=1))
    train_run(one, cut, progress=False)  # resumed with another worker count
    assert "resumed from" in RunRecord(cut).read_log()
    _assert_same_weights(tmp_path / "w0" / "runs" / "r", cut)
    assert _curves(tmp_path / "w0" / "runs" / "r") == _curves(cut)
