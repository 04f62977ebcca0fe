"""Atomic dataset folders: an interrupted build leaves nothing that looks complete; foreign folders are safe."""

from __future__ import annotations

import pytest

from benchmark.data import DatasetError
from benchmark.data.store import MARKER, build_atomically, is_complete


def _build(out):
    (out / "a.txt").write_text("a")
    return {"files": 1}


def test_interrupted_build_leaves_no_folder(tmp_path):
    def broken(out):
        (out / "half.txt").write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build_atomically(tmp_path / "ds", builder="t", params={"v": 1}, build=broken)
    assert not (tmp_path / "ds").exists()
    assert not list(tmp_path.glob(".ds.tmp-*"))


def test_params_change_rebuilds(tmp_path):
    root = build_atomically(tmp_path / "ds", builder="t", params={"v": 1}, build=_build)
    assert is_complete(root, builder="t", params={"v": 1}) and (root / MARKER).is_file()
    assert not is_complete(root, builder="t", params={"v": 2})
    build_atomically(tmp_path / "ds", builder="t", params={"v": 2}, build=_build)
    assert is_complete(root, builder="t", params={"v": 2})


def test_foreign_folder_is_never_overwritten(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("precious")
    for force in (False, True):
        with pytest.raises(DatasetError, match="not a prepared dataset"):
            build_atomically(tmp_path / "mine", builder="t", params={}, build=_build, force=force)
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "precious"
