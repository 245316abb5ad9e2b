"""Converts PhraseCut annotations to a ZFlow dataset manifest (JSON Lines) plus mask PNGs.

Input (the public PhraseCut release, https://github.com/ChenyunWu/PhraseCutDataset):
  DATA/refer_{train,val,test,miniv}.json   a list of tasks: {"task_id", "image_id", "phrase",
                                            "Polygons": [instance: [polygon: [[x, y], ...]]], ...}
  DATA/image_data_split.json               [{"image_id", "width", "height", ...}]
  DATA/images/{image_id}.jpg               Visual Genome pictures
Output: OUT/manifest.jsonl with {"id": task_id, "image", "phrase", "mask"} (paths relative to
OUT) and OUT/masks/{task_id}.png, the union of the task's instance polygons (255 = object),
rasterized as PhraseCut's own `polygons_to_mask` does.

Usage: python tools/datasets/phrasecut_to_jsonl.py --data DATA --split test --out OUT [--limit N]
Not run in CI (the dataset is not bundled).
"""
import argparse
import json
import os
import pathlib

from PIL import Image, ImageDraw


def polygons_mask(instances, width, height):
    """Matches PhraseCut's `utils/data_transfer.polygons_to_mask` over all instances' polygons:
    integer-truncated vertices, ImageDraw.polygon(outline=1, fill=1), union."""
    mask = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(mask)
    for polygons in instances:
        for polygon in polygons:
            if len(polygon) < 2:
                continue
            draw.polygon([(int(x), int(y)) for x, y in polygon], outline=255, fill=255)
    return mask


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, type=pathlib.Path, help="the PhraseCut data folder")
    parser.add_argument("--split", default="test", help="train, val, test or miniv")
    parser.add_argument("--out", required=True, type=pathlib.Path, help="output folder")
    parser.add_argument("--limit", type=int, help="convert only the first N tasks")
    args = parser.parse_args()

    tasks = json.loads((args.data / f"refer_{args.split}.json").read_text())
    sizes = {i["image_id"]: (i["width"], i["height"]) for i in json.loads((args.data / "image_data_split.json").read_text())}
    (args.out / "masks").mkdir(parents=True, exist_ok=True)
    with open(args.out / "manifest.jsonl", "w") as manifest:
        for task in tasks[: args.limit]:
            width, height = sizes[task["image_id"]]
            mask_path = args.out / "masks" / f"{task['task_id']}.png"
            polygons_mask(task["Polygons"], width, height).save(mask_path)
            image = os.path.relpath(args.data / "images" / f"{task['image_id']}.jpg", args.out)
            manifest.write(json.dumps({"id": str(task["task_id"]), "image": image, "phrase": task["phrase"],
                                       "mask": os.path.relpath(mask_path, args.out)}) + "\n")


if __name__ == "__main__":
    main()
