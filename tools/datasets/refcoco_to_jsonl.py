"""Converts RefCOCO / RefCOCO+ / G-Ref annotations to a ZFlow dataset manifest plus mask PNGs.

Input (the public refer releases, https://github.com/lichengunc/refer):
  DATA/refs(unc).p, refs(google).p or refs(umd).p   a pickled list of refs: {"ref_id", "ann_id",
      "image_id", "split", "sentences": [{"sent_id", "sent", ...}], ...}
  DATA/instances.json     COCO annotations: "images" {id, file_name, width, height},
      "annotations" {id, segmentation (polygons [[x0, y0, x1, y1, ...]] or RLE)}
  IMAGES/                 COCO train2014 pictures
Output: OUT/manifest.jsonl, one line per referring sentence: {"id": "REF-SENT", "image",
"phrase", "mask"}, and OUT/masks/REF.png (the referred object, 255 = object). Polygons are
rasterized with Pillow (pycocotools' own rasterizer can differ on boundary pixels; install it
and swap `annotation_mask` for `pycocotools.mask` if exact COCO masks matter); RLE (compressed
or not) is decoded as pycocotools' `rleFrString` does (checked by a round trip against a port
of its `rleToString` on 200 random masks).

Usage: python tools/datasets/refcoco_to_jsonl.py --data DATA --refs "refs(unc).p" --images IMAGES
           --split testA --out OUT [--limit N]
Not run in CI (the dataset is not bundled).
"""
import argparse
import json
import os
import pathlib
import pickle

import numpy as np
from PIL import Image, ImageDraw


def decode_counts(counts):
    """pycocotools' rleFrString: the compressed COCO RLE string to run lengths."""
    runs, i = [], 0
    while i < len(counts):
        value, shift, more = 0, 0, True
        while more:
            c = ord(counts[i]) - 48
            value |= (c & 0x1F) << (5 * shift)
            more = bool(c & 0x20)
            i += 1
            shift += 1
            if not more and (c & 0x10):
                value |= -1 << (5 * shift)
        if len(runs) > 2:
            value += runs[-2]
        runs.append(value)
    return runs


def rle_mask(rle, width, height):
    counts = rle["counts"]
    runs = decode_counts(counts) if isinstance(counts, str) else list(counts)
    flat = np.zeros(width * height, np.uint8)
    position, value = 0, 0
    for run in runs:
        flat[position:position + run] = value
        position += run
        value = 255 - value
    return Image.fromarray(flat.reshape(width, height).T)  # COCO RLE is column-major


def annotation_mask(segmentation, width, height):
    if isinstance(segmentation, dict):
        return rle_mask(segmentation, width, height)
    mask = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(mask)
    for polygon in segmentation:
        points = list(zip(polygon[0::2], polygon[1::2]))
        if len(points) >= 3:
            draw.polygon(points, fill=255)
    return mask


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, type=pathlib.Path, help="folder with refs(*).p and instances.json")
    parser.add_argument("--refs", default="refs(unc).p", help="refs(unc).p (RefCOCO, RefCOCO+), refs(umd).p or refs(google).p (G-Ref)")
    parser.add_argument("--images", required=True, type=pathlib.Path, help="the COCO train2014 image folder")
    parser.add_argument("--split", default="val", help="train, val, test, testA, testB")
    parser.add_argument("--out", required=True, type=pathlib.Path, help="output folder")
    parser.add_argument("--limit", type=int, help="convert only the first N refs")
    args = parser.parse_args()

    with open(args.data / args.refs, "rb") as f:
        refs = [r for r in pickle.load(f) if r["split"] == args.split]
    instances = json.loads((args.data / "instances.json").read_text())
    images = {i["id"]: i for i in instances["images"]}
    annotations = {a["id"]: a for a in instances["annotations"]}
    (args.out / "masks").mkdir(parents=True, exist_ok=True)
    with open(args.out / "manifest.jsonl", "w") as manifest:
        for ref in refs[: args.limit]:
            image = images[ref["image_id"]]
            mask_path = args.out / "masks" / f"{ref['ref_id']}.png"
            annotation_mask(annotations[ref["ann_id"]]["segmentation"], image["width"], image["height"]).save(mask_path)
            for sentence in ref["sentences"]:
                manifest.write(json.dumps({
                    "id": f"{ref['ref_id']}-{sentence['sent_id']}",
                    "image": os.path.relpath(args.images / image["file_name"], args.out),
                    "phrase": sentence["sent"], "mask": os.path.relpath(mask_path, args.out)}) + "\n")


if __name__ == "__main__":
    main()
