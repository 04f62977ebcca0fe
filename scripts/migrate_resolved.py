"""Give run records written before ``resolved.yaml`` existed one, computed from their config.yaml.

    .venv/bin/python scripts/migrate_resolved.py RUNS_DIR [RUNS_DIR ...]

Run once on a set of old records (e.g. a committed example) with a checkout whose method and builder defaults
are those the records ran with (no default changed between their writing and the resolved-run change, commit
cd1b224). The written file keeps the record's own run id (old ids hash the options as written) and says it was
migrated; reports then group the runs by their resolved values, as new records are. Records that already have
a resolved.yaml are left alone.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmark.run.record import RunRecord  # noqa: E402
from benchmark.run.resolve import resolve  # noqa: E402


def migrate(runs_dir: Path) -> int:
    done = 0
    for run_dir in sorted(p for p in runs_dir.iterdir() if (p / "config.yaml").is_file()):
        record = RunRecord(run_dir)
        if record.resolved_path.exists():
            continue
        raw = record.read_config() or {}
        cfg = record.load_config()
        if raw.get("name", "").startswith("teacher-") and "role" not in raw:
            cfg = dataclasses.replace(cfg, role="teacher")  # teacher runs were named teacher-...
        data = resolve(cfg).to_dict()
        data["run_id"] = run_dir.name
        data["migrated"] = "written by scripts/migrate_resolved.py for a record older than resolved.yaml"
        record.resolved_path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        done += 1
    return done


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        print(f"{arg}: {migrate(Path(arg))} record(s) migrated")
