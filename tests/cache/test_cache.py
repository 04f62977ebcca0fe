"""Teacher-feature cache: cached == live losses, fp16 effect, inexact fallbacks, corruption, keys."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from benchmark.cache import (
    CacheCorrupt,
    CachedTeacher,
    FeatureCache,
    LiveTeacher,
    cache_key,
    data_fingerprint,
    ensure_cache,
    inexact_reason,
    teacher_source,
    transforms_of,
)
from benchmark.cache.key import file_sha256
from benchmark.cache.store import COMPLETE, ENTRIES, MANIFEST
from benchmark.config import ConfigError, DataConfig, DistillConfig, ModelConfig
from benchmark.data import build_dataset, collate
from benchmark.distill.loss import DistillLoss
from benchmark.distill.methods import METHODS, get_method
from benchmark.run.resolve import run_id
from benchmark.zoo import build_detector

from .conftest import DATA, STUDENT, TEACHER, run_config

KD_METHODS = [name for name in METHODS.names() if get_method(name).needs_teacher]


def _source(teacher, weights, dataset, root, lines=None, **distill):
    return teacher_source(
        teacher,
        cfg=run_config(**distill),
        teacher_model=TEACHER,
        weights=weights,
        dataset=dataset,
        cache_root=root,
        log=(lines.append if lines is not None else lambda line: None),
        progress=False,
    )


def _batch(dataset):
    return collate([dataset.get(5, True), dataset.get(2, False)])


@pytest.fixture(scope="module")
def student(dataset):
    torch.manual_seed(2)
    return build_detector(STUDENT, num_classes=dataset.num_classes).train()


@pytest.fixture(scope="module")
def caches(teacher, teacher_weights, dataset, tmp_path_factory):
    root = tmp_path_factory.mktemp("out") / "cache"
    return {
        "fp32": _source(teacher, teacher_weights, dataset, root),
        "fp16": _source(teacher, teacher_weights, dataset, root, teacher_cache="fp16"),
    }


def _kd_losses(method, student, teacher, dataset, source, batch):
    torch.manual_seed(3)
    spec = get_method(method)
    criterion = DistillLoss(spec, student.card, teacher.card, spec.resolve_options(student.card.kind))
    _, feats_s = student.forward_train(batch.images, batch.targets)
    feats_t = source.features(batch, batch.images)
    losses = criterion(
        feats_s.features,
        feats_t.features,
        [t["boxes"] for t in batch.targets],
        feats_s.img_metas,
        generator=torch.Generator().manual_seed(4),
    )
    return {k: v.detach() for k, v in losses.items()}, feats_t


def test_cached_features_and_geometry_equal_live(caches, teacher, dataset):
    assert isinstance(caches["fp32"], CachedTeacher) and caches["fp32"].cache.dtype == "float32"
    batch = _batch(dataset)
    live, cached = LiveTeacher(teacher).features(batch), caches["fp32"].features(batch)
    assert cached.img_metas == live.img_metas
    assert list(cached.features) == list(live.features)
    for name, f in live.features.items():
        assert cached.features[name].dtype == torch.float32 and cached.features[name].shape == f.shape
        torch.testing.assert_close(cached.features[name], f, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("method", KD_METHODS)
def test_cached_loss_equals_live_loss(method, caches, teacher, student, dataset):
    """Same batch, same student pass, same generator: every distillation term equal to fp32 tolerance."""
    batch = _batch(dataset)
    live, _ = _kd_losses(method, student, teacher, dataset, LiveTeacher(teacher), batch)
    cached, _ = _kd_losses(method, student, teacher, dataset, caches["fp32"], batch)
    assert live.keys() == cached.keys() and live
    for term in live:
        torch.testing.assert_close(cached[term], live[term], rtol=1e-5, atol=1e-7, msg=term)


def test_fp16_cache_effect_is_bounded(caches, teacher, student, dataset):
    """fp16 storage halves the disk and moves the mimic loss by far less than 1 % (docs/speed.md has the
    figure on the quickstart pair)."""
    assert caches["fp16"].cache.dtype == "float16"
    assert caches["fp16"].cache.nbytes < caches["fp32"].cache.nbytes  # tiny maps: file overhead dominates here
    feats, _, _ = caches["fp16"].cache.load(dataset.image_ids[0], transforms_of(DATA)[0])
    assert all(f.dtype == torch.float16 for f in feats.values())
    batch = _batch(dataset)
    live, feats = _kd_losses("mimic", student, teacher, dataset, LiveTeacher(teacher), batch)
    half, feats16 = _kd_losses("mimic", student, teacher, dataset, caches["fp16"], batch)
    for name, f in feats.features.items():
        torch.testing.assert_close(feats16.features[name], f, rtol=2e-3, atol=2e-3)
    for term in live:
        assert abs(half[term] - live[term]) <= 1e-3 * abs(live[term]) + 1e-7, term


def test_inexact_configurations_fall_back_with_one_line(teacher, teacher_weights, dataset, tmp_path):
    # padded shapes that differ inside a batch
    assert "different sizes" in inexact_reason(DATA, 2, [(64, 64), (48, 64)])
    assert inexact_reason(DATA, 1, [(64, 64), (48, 64)]) is None
    assert inexact_reason(DATA, 2, [(64, 64)] * 3) is None
    # a validation split (the converged protocol's) is evaluation only: the cache stays exact
    assert inexact_reason(dataclasses.replace(DATA, val_ann="val.json", val_images="train"), 2, [(64, 64)]) is None

    # an augmentation setting not known to be deterministic (e.g. random scale jitter)
    @dataclasses.dataclass(frozen=True)
    class JitterData(DataConfig):
        scale_jitter: float = 0.0

    assert inexact_reason(JitterData(), 2, [(64, 64)]) is None
    assert "data.scale_jitter=0.1" in inexact_reason(JitterData(scale_jitter=0.1), 2, [(64, 64)])

    # a teacher in train mode: the run says so in one line and runs the live teacher
    lines: list[str] = []
    teacher.train()
    try:
        source = _source(teacher, teacher_weights, dataset, tmp_path / "cache", lines)
    finally:
        teacher.freeze()
    assert isinstance(source, LiveTeacher) and not (tmp_path / "cache").exists()
    assert len(lines) == 1 and "\n" not in lines[0] and "train mode" in lines[0] and "live teacher" in lines[0]

    # off, and over the disk limit
    lines.clear()
    assert isinstance(
        _source(teacher, teacher_weights, dataset, tmp_path / "c", lines, teacher_cache="off"), LiveTeacher
    )
    assert isinstance(
        _source(teacher, teacher_weights, dataset, tmp_path / "c", lines, teacher_cache_max_gb=1e-6), LiveTeacher
    )
    assert "is off" in lines[0] and "teacher_cache_max_gb=1e-06" in lines[1] and len(lines) == 2
    with pytest.raises(ConfigError, match="distill.teacher_cache: unknown value 'bf16'"):
        _source(teacher, teacher_weights, dataset, tmp_path / "c", None, teacher_cache="bf16")


def _build(teacher, teacher_weights, dataset, root, lines):
    transforms = transforms_of(DATA)
    key, fields = cache_key(
        teacher_sha256=file_sha256(teacher_weights),
        teacher_model=TEACHER,
        data_fp=data_fingerprint(dataset),
        transforms=transforms,
        dtype="float32",
    )
    return ensure_cache(
        root,
        key,
        teacher=teacher,
        dataset=dataset,
        transforms=transforms,
        dtype="float32",
        key_fields=fields,
        log=lines.append,
        progress=False,
    )


def test_corrupt_or_partial_cache_is_detected_and_rebuilt(teacher, teacher_weights, dataset, tmp_path):
    lines: list[str] = []
    cache = _build(teacher, teacher_weights, dataset, tmp_path, lines)
    assert len(cache.entries) == 2 * len(dataset) and "built" in lines[-1]
    manifest = json.loads((cache.directory / MANIFEST).read_text())
    assert manifest["key"]["teacher_sha256"] == file_sha256(teacher_weights)
    entry = next(iter(cache.entries.values()))
    path = cache.directory / ENTRIES / entry["file"]
    reference = path.read_bytes()

    # reopening a good cache does not rebuild
    lines.clear()
    _build(teacher, teacher_weights, dataset, tmp_path, lines)
    assert lines == []

    # one flipped byte
    data = bytearray(reference)
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CacheCorrupt, match="fails its sha256/size check"):
        FeatureCache.open(cache.directory)
    _build(teacher, teacher_weights, dataset, tmp_path, lines)
    assert "fails its sha256/size check; rebuilding" in lines[0] and "built" in lines[1]
    assert path.read_bytes() == reference

    # a missing entry, a truncated manifest, an interrupted build (no marker)
    for damage, message in (
        (lambda: path.unlink(), "is missing"),
        (lambda: (cache.directory / MANIFEST).write_text("{"), "does not match"),
        (lambda: (cache.directory / COMPLETE).unlink(), "partial build"),
    ):
        lines.clear()
        damage()
        with pytest.raises(CacheCorrupt, match=message):
            FeatureCache.open(cache.directory)
        rebuilt = _build(teacher, teacher_weights, dataset, tmp_path, lines)
        assert message in lines[0] and len(rebuilt.entries) == len(cache.entries)
        FeatureCache.open(cache.directory)


def test_key_changes_with_checkpoint_data_and_transforms(teacher, teacher_weights, dataset, tmp_path):
    base = {
        "teacher_sha256": file_sha256(teacher_weights),
        "teacher_model": TEACHER,
        "data_fp": data_fingerprint(dataset),
        "transforms": transforms_of(DATA),
        "dtype": "float32",
    }
    key = cache_key(**base)[0]
    assert cache_key(**base)[0] == key

    other = tmp_path / "other.pt"
    state = {k: v.clone() for k, v in teacher.state_dict().items()}
    next(v for v in state.values() if v.is_floating_point()).add_(1e-3)
    torch.save({"model": state}, other)
    other_data = build_dataset(dataclasses.replace(DATA, synthetic_seed=1), "train", progress=False)
    fewer = build_dataset(dataclasses.replace(DATA, max_images=4), "train", progress=False)
    variants = [
        {"teacher_sha256": file_sha256(other)},
        {"teacher_model": ModelConfig(TEACHER.name, {**TEACHER.options, "fpn_channels": 32})},
        {"data_fp": data_fingerprint(other_data)},
        {"data_fp": data_fingerprint(fewer)},
        {"transforms": transforms_of(dataclasses.replace(DATA, hflip=False))},
        {"transforms": transforms_of(dataclasses.replace(DATA, input_size=96))},
        {"dtype": "float16"},
    ]
    keys = {cache_key(**{**base, **v})[0] for v in variants}
    assert key not in keys and len(keys) == len(variants)


def test_cache_settings_do_not_change_the_run_id():
    cfg = run_config()
    for distill in ({"teacher_cache": "off"}, {"teacher_cache": "fp16", "teacher_cache_max_gb": 1.0}):
        other = dataclasses.replace(cfg, distill=dataclasses.replace(cfg.distill, **distill))
        assert run_id(other) == run_id(cfg)
    assert run_id(dataclasses.replace(cfg, distill=DistillConfig())) != run_id(cfg)
