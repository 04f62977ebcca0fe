"""Run configuration: the typed schema of a run (:mod:`.schema`, frozen dataclasses parsed from raw mappings with
every problem reported at once), ``key=value`` command-line overrides (:mod:`.overrides`) and strict YAML
reading (:mod:`.yaml_io`). The bottom of the harness: imports nothing from it."""

from benchmark.config.schema import (
    ConfigError,
    DataConfig,
    DistillConfig,
    EvalConfig,
    ModelConfig,
    ResourcesConfig,
    RunConfig,
    StageConfig,
    TeacherConfig,
    TrackingConfig,
    TrainConfig,
    parse_dataclass,
    run_config_from_dict,
    sanitize_name,
    teacher_run_config,
    to_plain,
)

__all__ = [
    "ConfigError",
    "DataConfig",
    "DistillConfig",
    "EvalConfig",
    "ModelConfig",
    "ResourcesConfig",
    "RunConfig",
    "StageConfig",
    "TeacherConfig",
    "TrackingConfig",
    "TrainConfig",
    "parse_dataclass",
    "run_config_from_dict",
    "sanitize_name",
    "teacher_run_config",
    "to_plain",
]
