"""VOC → tiles converter on a hand-made annotation: the >= 50 % rule, clipping, zero padding, errors."""

from __future__ import annotations

import numpy as np
import pytest

from benchmark.data import DatasetError
from benchmark.data.neon import coco_annotation, parse_voc, tile_grid, tile_image

VOC = """<annotation>
  <filename>site.tif</filename>
  <size><width>{w}</width><height>{h}</height><depth>3</depth></size>
  {objects}
</annotation>"""


def _voc(boxes, w=700, h=400, names=None) -> str:
    objects = "".join(
        f"<object><name>{(names or ['Tree'] * len(boxes))[i]}</name><bndbox><xmin>{b[0]}</xmin><ymin>{b[1]}</ymin>"
        f"<xmax>{b[2]}</xmax><ymax>{b[3]}</ymax></bndbox></object>"
        for i, b in enumerate(boxes)
    )
    return VOC.format(w=w, h=h, objects=objects)


BOXES = [
    (360, 100, 460, 150),  # straddles x=400: 40 % in tile (0,0), 60 % in tile (0,1)
    (50, 50, 90, 80),  # inside tile (0,0)
    (380, 200, 420, 240),  # exactly half in each tile: kept in both
    (500, 300, 560, 390),  # inside tile (0,1), in the real part of the padded tile
]


def test_parse_voc():
    voc = parse_voc(_voc(BOXES, names=["Tree", "Dead", "Alive", "Tree"]), source="site.xml")
    assert (voc.filename, voc.width, voc.height) == ("site.tif", 700, 400)
    assert voc.boxes.shape == (4, 4) and voc.boxes[0].tolist() == [360, 100, 460, 150]
    assert voc.names == ("Tree", "Dead", "Alive", "Tree")


def test_tiles_keep_majority_boxes_clipped_and_pad_edges():
    voc = parse_voc(_voc(BOXES), source="site.xml")
    pixels = np.full((400, 700, 3), 200, dtype=np.uint8)
    assert tile_grid(400, 700) == (1, 2)
    left, right = tile_image(pixels, voc.boxes, tile_size=400)
    assert (left.row, left.col, left.x0, right.x0) == (0, 0, 0, 400)
    assert left.boxes.tolist() == [[50, 50, 90, 80], [380, 200, 400, 240]]
    # the 60 % part of the straddling box, clipped at the tile edge and shifted to tile pixels
    assert right.boxes.tolist() == [[0, 100, 60, 150], [0, 200, 20, 240], [100, 300, 160, 390]]
    assert right.pixels.shape == (400, 400, 3)
    assert (right.pixels[:, :300] == 200).all() and (right.pixels[:, 300:] == 0).all()  # zero padding
    assert right.boxes.dtype == np.float32


def test_empty_tiles_dropped_unless_asked():
    pixels = np.zeros((400, 900, 3), dtype=np.uint8)
    boxes = np.array([[10, 10, 50, 50]], dtype=np.float64)
    assert [t.col for t in tile_image(pixels, boxes, tile_size=400)] == [0]
    assert [t.col for t in tile_image(pixels, boxes, tile_size=400, keep_empty=True)] == [0, 1, 2]


def test_min_inside_threshold():
    pixels = np.zeros((400, 800, 3), dtype=np.uint8)
    boxes = np.array([[360, 100, 460, 150]], dtype=np.float64)  # 40 % left, 60 % right
    tiles = tile_image(pixels, boxes, tile_size=400, min_inside=0.3)
    assert [t.col for t in tiles] == [0, 1]


def test_coco_annotation_entry():
    ann = coco_annotation(5, 9, np.array([0, 100, 60, 150], dtype=np.float32))
    assert ann == {"id": 5, "image_id": 9, "category_id": 1, "bbox": [0, 100, 60, 50], "area": 3000, "iscrowd": 0}


@pytest.mark.parametrize(
    ("xml", "match"),
    [
        ("<annotation><size>", "site.xml: broken XML"),
        (_voc([(10, 10, 5, 20)]), "site.xml: object 0: box .* non-positive size"),
        (_voc([(10, 10, 20, 20), (690, 10, 720, 20)]), "site.xml: object 1: box .* outside the 700x400 image"),
        (
            _voc([(10, 10, 20, 20)]).replace("<xmax>20</xmax>", ""),
            "site.xml: object 0: missing or non-numeric <bndbox/xmax>",
        ),
        ("<annotation></annotation>", r"site.xml: <size>: missing or non-numeric <size/width>"),
    ],
)
def test_voc_errors_are_one_line(xml, match):
    with pytest.raises(DatasetError, match=match) as info:
        parse_voc(xml, source="site.xml")
    assert "\n" not in str(info.value)
