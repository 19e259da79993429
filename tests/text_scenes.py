"""Photos with rendered text for the text-in-the-picture tests and benchmark.

Each scene is a fixture photo with a certificate (paper), a name badge, a named shirt patch or a
display board pasted in, the text drawn with Pillow in a DejaVu/Liberation font, at a size and an
angle, on a light or dark background. Every drawn line comes back with its polygon (in the
scene's pixels) and its label: ``name`` (a register person's full name), ``family``, or
``harmless``; the tests check redaction against exactly these regions.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

FONT_DIRS = [Path("/usr/share/fonts/truetype")]
PREFERRED_FONTS = [
    "dejavu/DejaVuSans.ttf", "dejavu/DejaVuSans-Bold.ttf", "dejavu/DejaVuSerif.ttf",
    "dejavu/DejaVuSerif-Bold.ttf", "dejavu/DejaVuSansCondensed.ttf", "dejavu/DejaVuSansMono.ttf",
    "dejavu/DejaVuSerif-Italic.ttf", "liberation/LiberationSans-Regular.ttf",
    "liberation/LiberationSerif-Regular.ttf", "liberation/LiberationSans-Bold.ttf",
]

HARMLESS = ["Sports Day 2026", "Year 4 Science Fair", "Star of the Week", "Well done!",
            "Reading Champion", "Summer Term", "House Captain", "Maths Challenge"]


def fonts() -> list[Path]:
    """TrueType fonts on this machine (DejaVu at least, from Debian's fonts-dejavu-core)."""
    found = [d / f for d in FONT_DIRS for f in PREFERRED_FONTS if (d / f).is_file()]
    return found


@dataclass
class Region:
    text: str
    label: str                  # "name" | "family" | "harmless"
    polygon: list[tuple[float, float]]
    letter_px: int

    @property
    def bbox(self) -> tuple[int, int, int, int]:
        xs, ys = [p[0] for p in self.polygon], [p[1] for p in self.polygon]
        return int(min(xs)), int(min(ys)), int(math.ceil(max(xs))), int(math.ceil(max(ys)))


@dataclass
class Scene:
    image: Image.Image
    regions: list[Region] = field(default_factory=list)
    kind: str = ""


def _text_size(font, text):
    l, t, r, b = font.getbbox(text)
    return r - l, b - t, l, t


def _card(lines, font_path, letter_px, fg, bg, pad_ratio=0.6, border=None):
    """A flat card (paper/badge/shirt patch) with ``lines`` centred; returns image and line boxes."""
    # Size the font so a capital letter is about ``letter_px`` tall.
    size = max(6, int(round(letter_px / 0.73)))
    font = ImageFont.truetype(str(font_path), size)
    measures = [_text_size(font, t) for t in lines]
    line_gap = int(size * 0.5)
    width = max(m[0] for m in measures) + int(2 * size * pad_ratio) + 2 * size
    height = sum(m[1] for m in measures) + line_gap * (len(lines) - 1) + int(2 * size * pad_ratio) + size
    card = Image.new("RGBA", (width, height), bg + (255,))
    draw = ImageDraw.Draw(card)
    if border:
        draw.rectangle([2, 2, width - 3, height - 3], outline=border, width=max(2, size // 8))
    y = (height - (sum(m[1] for m in measures) + line_gap * (len(lines) - 1))) // 2
    boxes = []
    for text, (w, h, ox, oy) in zip(lines, measures):
        x = (width - w) // 2
        draw.text((x - ox, y - oy), text, font=font, fill=fg + (255,))
        boxes.append((x, y, x + w, y + h))
        y += h + line_gap
    return card, boxes


def _paste_rotated(base: Image.Image, card: Image.Image, boxes, centre, angle):
    """Paste ``card`` rotated by ``angle`` degrees (counter-clockwise) centred at ``centre``; map boxes."""
    rot = card.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True)
    cx, cy = centre
    ox, oy = int(cx - rot.width / 2), int(cy - rot.height / 2)
    base.paste(rot, (ox, oy), rot)
    a = math.radians(angle)
    cos, sin = math.cos(a), math.sin(a)
    w0, h0 = card.size
    polys = []
    for (x0, y0, x1, y1) in boxes:
        pts = []
        for (x, y) in ((x0, y0), (x1, y0), (x1, y1), (x0, y1)):
            dx, dy = x - w0 / 2, y - h0 / 2
            # PIL rotates counter-clockwise on screen: x' = cos*dx + sin*dy, y' = -sin*dx + cos*dy
            rx, ry = cos * dx + sin * dy, -sin * dx + cos * dy
            pts.append((ox + rot.width / 2 + rx, oy + rot.height / 2 + ry))
        polys.append(pts)
    return polys


STYLES = {
    # kind: (foreground, background, border)
    "paper": ((20, 20, 30), (250, 248, 240), (180, 150, 60)),
    "badge": ((10, 10, 10), (255, 255, 255), (30, 80, 160)),
    "shirt": ((250, 250, 250), (25, 40, 110), None),
    "board": ((235, 235, 235), (30, 60, 40), (120, 90, 60)),
    "screen": ((255, 230, 80), (20, 20, 20), (80, 80, 80)),
}


def make_scene(background: Image.Image, *, kind: str, lines: list[tuple[str, str]], font: Path,
               letter_px: int, angle: float, rng: random.Random, beside: bool = False) -> Scene:
    """``background`` with one card of ``kind`` holding ``lines`` ([(text, label)]) pasted in.

    ``beside=True`` widens the photo with a blurred mirror image of itself and puts the card
    there, clear of every face (a face's redaction would otherwise cover harmless text too).
    """
    img = background.convert("RGB").copy()
    fg, bg, border = STYLES[kind]
    card, boxes = _card([t for t, _ in lines], font, letter_px, fg, bg, border=border)
    rot_w = abs(card.width * math.cos(math.radians(angle))) + abs(card.height * math.sin(math.radians(angle)))
    rot_h = abs(card.width * math.sin(math.radians(angle))) + abs(card.height * math.cos(math.radians(angle)))
    if beside:
        from PIL import ImageFilter, ImageOps

        strip_w = int(rot_w + 40)
        height = max(img.height, int(rot_h + 40))
        canvas = Image.new("RGB", (img.width + strip_w, height), (128, 128, 128))
        canvas.paste(img, (0, 0))
        mirror = ImageOps.mirror(img).filter(ImageFilter.GaussianBlur(6)).resize((strip_w, height))
        canvas.paste(mirror, (img.width, 0))
        cx = img.width + strip_w / 2
        cy = rng.uniform(rot_h / 2 + 10, height - rot_h / 2 - 10)
        polys = _paste_rotated(canvas, card, boxes, (cx, cy), angle)
        return Scene(canvas, [Region(t, label, p, letter_px) for (t, label), p in zip(lines, polys)], kind)
    if rot_w > img.width * 0.95 or rot_h > img.height * 0.95:
        scale = min(img.width * 0.95 / rot_w, img.height * 0.95 / rot_h)
        img = img.resize((int(img.width / scale) + 1, int(img.height / scale) + 1), Image.Resampling.BICUBIC)
    cx = rng.uniform(rot_w / 2 + 2, img.width - rot_w / 2 - 2)
    cy = rng.uniform(rot_h / 2 + 2, img.height - rot_h / 2 - 2)
    polys = _paste_rotated(img, card, boxes, (cx, cy), angle)
    regions = [Region(t, label, p, letter_px) for (t, label), p in zip(lines, polys)]
    return Scene(img, regions, kind)


def scene_set(backgrounds: list[Image.Image], people: list[tuple[str, str]], *, seed: int = 17,
              count: int = 24, letter_range=(14, 40), angles=(-30, -20, -10, 0, 0, 10, 20, 30),
              beside: bool = False) -> list[Scene]:
    """``count`` scenes mixing every card kind, font, size and angle; names from ``people`` (given, family)."""
    rng = random.Random(seed)
    kinds = list(STYLES)
    all_fonts = fonts()
    scenes = []
    for i in range(count):
        kind = kinds[i % len(kinds)]
        given, family = people[i % len(people)]
        form = rng.choice(["{g} {f}", "{g} {f}", "{f}, {g}", "{G} {F}", "{g} {f}"])
        name = form.format(g=given, f=family, G=given.upper(), F=family.upper())
        harmless = rng.sample(HARMLESS, 2)
        if kind == "badge":
            lines = [(name, "name"), (harmless[0], "harmless")]
        elif kind == "shirt":
            lines = [(family.upper(), "family"), (harmless[0], "harmless")]
        else:
            lines = [(harmless[0], "harmless"), (name, "name"), (harmless[1], "harmless")]
        scenes.append(make_scene(backgrounds[i % len(backgrounds)], kind=kind, lines=lines,
                                 font=all_fonts[i % len(all_fonts)], letter_px=rng.randint(*letter_range),
                                 angle=angles[i % len(angles)] + rng.uniform(-2, 2), rng=rng, beside=beside))
    return scenes
