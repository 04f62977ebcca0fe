"""Teacher-feature cache: a frozen teacher's FPN features per (image, deterministic transform), computed
once per sweep and read by every student run instead of running the teacher (docs/speed.md)."""

from benchmark.cache.key import Transform, cache_key, data_fingerprint, default_cache_root, transforms_of
from benchmark.cache.policy import Budget, Decision, decide, estimate_budget, inexact_reason
from benchmark.cache.source import CachedTeacher, LiveTeacher, TeacherSource, teacher_source
from benchmark.cache.store import CacheCorrupt, FeatureCache, build_cache, ensure_cache

__all__ = [
    "Budget",
    "CacheCorrupt",
    "CachedTeacher",
    "Decision",
    "FeatureCache",
    "LiveTeacher",
    "TeacherSource",
    "Transform",
    "build_cache",
    "cache_key",
    "data_fingerprint",
    "decide",
    "default_cache_root",
    "ensure_cache",
    "estimate_budget",
    "inexact_reason",
    "teacher_source",
    "transforms_of",
]
