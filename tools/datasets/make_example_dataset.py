"""Builds examples/dataset/: a small real evaluation set with honest masks.

- horse: scikit-image's horse silhouette (`skimage.data.horse()`, CC0, the same picture as
  examples/images/horse.png); the mask is the silhouette itself (its black pixels).
- horse-on-*: that silhouette, scaled and pasted in a brown tone onto crops of the bundled
  photos (examples/images, public domain / CC0); the mask is exactly the pasted pixels.
- shapes-*: filled circles, squares and triangles in distinct colours drawn onto photo crops;
  one manifest line per shape, with exact masks. Several phrases per image are separate lines.

Run: tools/.venv/bin/python tools/datasets/make_example_dataset.py
"""
import json
import pathlib

import numpy as np
from PIL import Image, ImageDraw
from skimage import data

ROOT = pathlib.Path(__file__).resolve().parents[2]
PHOTOS = ROOT / "examples" / "images"
OUT = ROOT / "examples" / "dataset"
SIZE = (192, 144)  # width, height of every picture

COLOURS = {"red": (220, 30, 30), "blue": (30, 60, 220), "yellow": (240, 210, 20), "green": (30, 170, 60)}


def crop(photo, box):
    return Image.open(PHOTOS / photo).convert("RGB").crop(box).resize(SIZE, Image.LANCZOS)


def save_mask(mask, name):
    Image.fromarray((mask * 255).astype(np.uint8)).save(OUT / "masks" / name, optimize=True)


def draw_shape(image, kind, colour, box):
    """Draws a filled shape and returns its exact mask (drawn on a separate 1-bit canvas)."""
    canvas = Image.new("1", image.size, 0)
    for target, fill in ((ImageDraw.Draw(image), COLOURS[colour]), (ImageDraw.Draw(canvas), 1)):
        if kind == "circle":
            target.ellipse(box, fill=fill)
        elif kind == "square":
            target.rectangle(box, fill=fill)
        else:
            x0, y0, x1, y1 = box
            target.polygon([((x0 + x1) // 2, y0), (x1, y1), (x0, y1)], fill=fill)
    return np.array(canvas, dtype=bool)


def main():
    (OUT / "images").mkdir(parents=True, exist_ok=True)
    (OUT / "masks").mkdir(parents=True, exist_ok=True)
    lines = []

    silhouette = ~data.horse()  # True on the horse (horse() is True on the white background)
    horse = Image.fromarray(np.where(silhouette, 0, 255).astype(np.uint8)).convert("RGB").resize(SIZE, Image.LANCZOS)
    horse_mask = np.array(Image.fromarray(silhouette).resize(SIZE, Image.NEAREST))
    horse.save(OUT / "images" / "horse.png", optimize=True)
    save_mask(horse_mask, "horse.png")
    lines.append({"id": "horse", "image": "images/horse.png", "phrase": "horse", "mask": "masks/horse.png"})

    small = Image.fromarray(silhouette).resize((120, 98), Image.NEAREST)
    for name, photo, box, at in [("horse-on-coffee", "coffee.jpg", (0, 0, 400, 300), (40, 30)),
                                 ("horse-on-rocket", "rocket.jpg", (100, 150, 420, 390), (20, 40))]:
        image = crop(photo, box)
        mask = np.zeros(SIZE[::-1], bool)
        mask[at[1]:at[1] + small.height, at[0]:at[0] + small.width] = np.array(small)
        pixels = np.array(image)
        pixels[mask] = (110, 70, 40)
        Image.fromarray(pixels).save(OUT / "images" / f"{name}.jpg", quality=90)
        save_mask(mask, f"{name}.png")
        lines.append({"id": name, "image": f"images/{name}.jpg", "phrase": "horse", "mask": f"masks/{name}.png"})

    scenes = [
        ("shapes-cat", "chelsea.png", (0, 0, 451, 300), [("circle", "red", (20, 30, 80, 90)), ("square", "blue", (120, 60, 175, 115))]),
        ("shapes-astronaut", "astronaut.jpg", (50, 0, 450, 300), [("triangle", "yellow", (100, 20, 180, 100)),
                                                                 ("circle", "green", (15, 80, 65, 130))]),
        ("shapes-coffee", "coffee.jpg", (100, 50, 500, 350), [("square", "red", (30, 20, 90, 80)),
                                                             ("triangle", "blue", (110, 50, 180, 130))]),
    ]
    for name, photo, box, shapes in scenes:
        image = crop(photo, box)
        for kind, colour, shape_box in shapes:
            mask = draw_shape(image, kind, colour, shape_box)
            sample = f"{name}-{colour}-{kind}"
            save_mask(mask, f"{sample}.png")
            lines.append({"id": sample, "image": f"images/{name}.jpg", "phrase": f"a {colour} {kind}",
                          "mask": f"masks/{sample}.png"})
        image.save(OUT / "images" / f"{name}.jpg", quality=90)

    (OUT / "manifest.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"{len(lines)} samples, {total / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
