"""Identification at register scale: false identifications, true identifications and the share of
faces held or redacted, as the identification rule changes (issue 20).

    .venv/bin/python benchmarks/identification.py            # about a minute
    .venv/bin/python benchmarks/identification.py --json     # the numbers as JSON too

**Data** (built in memory from what the project may use; nothing is downloaded or written):

- every face of ``../shared/fixtures/faces`` (the five enrolment people's reference and event photos,
  the labelled group photos, ``bald_guys.jpg``: a crowd of look-alike bald men), scikit-image's
  ``astronaut.png`` and matplotlib's ``grace_hopper.jpg``: each a distinct person, except the event
  photos, which show the five enrolled people (labelled by the fixture README);
- scikit-image's ``lfw_subset.npy``: 100 faces of 25×25 pixels (upscaled; small and blurred, the
  faces most likely to be close to everybody), half enrolled, half never (their identities are not
  labelled: should two be the same person, a match between them is counted as false — the
  pessimistic side);
- generated from those: the dlib face chip **mirrored** (the issue's check that the rule still
  identifies anyone), **warped and aged** (face stretched and the lower face shortened, softened),
  and **look-alikes**: an enrolled person's chip blended half-and-half with a never-enrolled
  person's — someone who resembles the pupil but is not them.

**Register**: the five fixture people (their own 1–2 reference photos) and every other person
whose face is at least 60 px alternately enrolled (reference = their photo, and a second
reference: the photo re-lit and slightly turned) or never enrolled; smaller faces (26–55 px, as
in a class-photo grid) are never enrolled. The enrolment guard is applied as ``consent enrol``
does. **Probes**: the enrolled people's mirrored references, aged
variants and real event photos (should be identified as them); never-enrolled people, their
mirrors and aged variants, look-alikes and the LFW faces (must never be identified).

**Register B** (homogeneous, like a school's own portraits: one source, one size): the 50
enrolled LFW faces alone (each with a re-lit second reference); probes: their mirrored and aged
variants, the 49 never-enrolled LFW faces and their mirrors, half-pupil look-alikes, and every
fixture face (never enrolled).

**Rules compared**, on the same descriptors (our descriptors equal dlib's, so the peer's numbers
are face_recognition's): ``face_recognition`` ``compare_faces`` at its default tolerance 0.6 (the
peer: nearest reference within 0.6), the old fixed rule (0.5 and margin 0.06), the calibrated rule
built up step by step, and the calibrated rule with each extra measure added or removed.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from statistics import NormalDist

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from consent.identification.calibration import calibrate  # noqa: E402
from consent.identification.guard import screen  # noqa: E402
from consent.matching import Gallery, Tolerances  # noqa: E402

FIXTURES = ROOT.parent / "shared" / "fixtures" / "faces"
EVENT_PEOPLE = {"obama1.jpg": ["obama"], "alex_lacamoire1.jpg": ["alex_lacamoire"],
                "johnsnow_test1.jpg": ["kit_harington"], "kit_with_rose.jpg": ["kit_harington", "rose_leslie"],
                "two_people.jpg": ["obama", "biden"], "obama_and_biden.jpg": ["obama", "biden"]}


# ---------------------------------------------------------------- faces as dlib chips

def chips_of(rgb: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """``(face size, 150×150 chip)`` for every face the product finds and can measure."""
    from processors import dlib_resnet
    from processors.face_detect import DetectOptions, detect
    from processors.face_encode import _landmarks, box_size

    out = []
    for det in detect(np.ascontiguousarray(rgb), DetectOptions()):
        shape = _landmarks(rgb, det, 0)
        if shape is not None:
            out.append((box_size(det.box), dlib_resnet.chip(rgb, shape)))
    return out


def load_rgb(path: Path) -> np.ndarray:
    from PIL import Image, ImageOps

    with Image.open(path) as im:
        return np.asarray(ImageOps.exif_transpose(im).convert("RGB"))


def collect():
    """``(people, events, lfw)``: people = {id: [(size, chip), …]}; events = [(id, size, chip)]."""
    import matplotlib.cbook
    import skimage.data

    people: dict[str, list] = {}
    for folder in sorted((FIXTURES / "enrol").iterdir()):
        for f in sorted(folder.iterdir()):
            faces = chips_of(load_rgb(f))
            if len(faces) == 1:
                people.setdefault(folder.name, []).append(faces[0])
    events = []
    for name, who in EVENT_PEOPLE.items():
        for size, chip in chips_of(load_rgb(FIXTURES / "events" / name)):
            events.append((who, size, chip))
    for f in sorted((FIXTURES / "groups").glob("*.jpg")):
        for i, face in enumerate(chips_of(load_rgb(f))):
            people[f"{f.stem}#{i}"] = [face]
    people["astronaut"] = [chips_of(skimage.data.astronaut())[0]]
    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as fh:
        from PIL import Image

        people["grace_hopper"] = [chips_of(np.asarray(Image.open(fh).convert("RGB")))[0]]
    lfw = []
    import cv2

    for img in skimage.data.lfw_subset()[:100]:
        g = cv2.resize((img * 255).astype(np.uint8), (100, 100), interpolation=cv2.INTER_CUBIC)
        canvas = np.full((220, 220), 128, np.uint8)
        canvas[60:160, 60:160] = g
        found = chips_of(np.stack([canvas] * 3, -1))
        if found:
            lfw.append((25, found[0][1]))
    return people, events, lfw


# ---------------------------------------------------------------- variants

def mirrored(chip):
    return np.ascontiguousarray(chip[:, ::-1])


def relit(chip, turn=4.0):
    """A second reference photo: brighter, slightly turned."""
    import cv2

    m = cv2.getRotationMatrix2D((75, 75), turn, 1.0)
    out = cv2.warpAffine(chip, m, (150, 150), borderMode=cv2.BORDER_REFLECT)
    return np.clip(out.astype(np.float32) * 1.15 + 8, 0, 255).astype(np.uint8)


def aged(chip):
    """Face shape changed as a child's does over a year or two: lower face shorter, face a little
    wider, softened, as in a smaller photo."""
    import cv2

    h = 150
    ys = np.arange(h, dtype=np.float32)
    # rows below the eyes (~y=60) are sampled from further down: the chin moves up ~8 %
    src_y = np.where(ys < 60, ys, 60 + (ys - 60) * 1.09)
    xs = np.arange(h, dtype=np.float32)
    src_x = 75 + (xs - 75) / 1.05
    map_x, map_y = np.meshgrid(src_x, src_y)
    out = cv2.remap(chip, map_x.astype(np.float32), map_y.astype(np.float32), cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_REFLECT)
    small = cv2.resize(out, (60, 60), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (150, 150), interpolation=cv2.INTER_CUBIC)


def blend(a, b, alpha=0.5):
    return (a.astype(np.float32) * alpha + b.astype(np.float32) * (1 - alpha)).astype(np.uint8)


# ---------------------------------------------------------------- the experiment

def build(people, events, lfw):
    from processors import dlib_resnet

    ids = sorted(people)
    fixture_people = {"obama", "biden", "alex_lacamoire", "kit_harington", "rose_leslie"}
    # A school's reference photos are portraits: people whose face is at least 60 px are enrolled
    # alternately (the rest never); faces smaller than that (the group photos' 26–55 px faces, like a
    # class-photo grid) are never enrolled.
    others = [p for p in ids if p not in fixture_people]
    large = [p for p in others if people[p][0][0] >= 60]
    for i, face in enumerate(lfw):
        people[f"lfw#{i}"] = [face]
    lfw_ids = [f"lfw#{i}" for i in range(len(lfw))]
    enrolled = sorted(fixture_people & set(ids)) + large[0::2] + lfw_ids[0::2]
    never = large[1::2] + [p for p in others if people[p][0][0] < 60] + lfw_ids[1::2]
    ref_chips, ref_ids = [], []
    for p in enrolled:
        faces = people[p]
        for _, chip in faces:
            ref_chips.append(chip)
            ref_ids.append(p)
        if len(faces) == 1:
            ref_chips.append(relit(faces[0][1]))
            ref_ids.append(p)
    probes = []   # (kind, truth or None, size, chip)
    for p in enrolled:
        tag = " (LFW 25 px)" if p.startswith("lfw") else ""
        for size, chip in people[p]:
            probes.append(("enrolled, mirrored reference" + tag, p, size, mirrored(chip)))
            probes.append(("enrolled, aged/warped" + tag, p, size, aged(chip)))
    for who, size, chip in events:
        probes.append(("enrolled, other photo (events)", who, size, chip))
    for p in never:
        size, chip = people[p][0]
        tag = " (LFW 25 px)" if p.startswith("lfw") else ""
        probes.append(("never enrolled" + tag, None, size, chip))
        probes.append(("never enrolled, mirrored" + tag, None, size, mirrored(chip)))
        probes.append(("never enrolled, aged/warped" + tag, None, size, aged(chip)))
    for k, p in enumerate(enrolled):
        size, chip = people[p][0]
        stranger = people[never[k % len(never)]][0][1]
        probes.append(("look-alike (half a pupil, half a stranger)", None, size, blend(chip, stranger)))
    refs = dlib_resnet.descriptors(ref_chips)
    reasons, _ = screen([], np.zeros((0, 128)), ref_ids, refs, target=1e-4, match_tolerance=0.5, margin=0.06)
    kept = [i for i, why in enumerate(reasons) if not why]
    if len(kept) < len(ref_ids):
        print(f"Enrolment guard refused {len(ref_ids) - len(kept)} reference photo(s): "
              + "; ".join(f"{ref_ids[i]}: {why}" for i, why in enumerate(reasons) if why))
    ref_ids, refs = [ref_ids[i] for i in kept], refs[kept]
    vectors = dlib_resnet.descriptors([c for *_, c in probes])
    return ref_ids, refs, [(k, t, s) for k, t, s, _ in probes], vectors


def evaluate(gallery, tol, probes, vectors, *, peer=None):
    counts = {"faces": 0, "true": 0, "false": 0, "held": 0, "genuine": 0, "impostor": 0, "by_kind": {}}
    for (kind, truth, size), v in zip(probes, vectors):
        if peer is not None:
            d = gallery.distances(v)
            best = min(d, key=d.get)
            match, person = ("identified", best) if d[best] <= peer else ("unknown", None)
        else:
            m = gallery.match(v, tol, size)
            match, person = m.match, m.person_id
        truths = truth if isinstance(truth, list) else ([truth] if truth else [])
        k = counts["by_kind"].setdefault(kind, {"faces": 0, "true": 0, "false": 0, "held": 0})
        for c in (counts, k):
            c["faces"] += 1
        counts["genuine" if truths else "impostor"] += 1
        if match == "identified":
            key = "true" if person in truths else "false"
        elif match == "uncertain":
            key = "held"
        else:
            key = None
        if key:
            counts[key] += 1
            k[key] += 1
    return counts


def rules(cal, base):
    t, z = cal.threshold, cal.z_threshold
    look = frozenset(cal.lookalike_people)
    return [
        ("face_recognition compare_faces 0.6 (peer)", None, 0.6),
        ("old fixed rule: 0.5, margin 0.06", Tolerances(0.5, 0.6, 0.06), None),
        (f"calibrated rule (default): {t:.3f}", Tolerances(0.5, 0.6, base.margin, t, z, look), None),
    ]


def measures(t, z, margin):
    """Each extra measure, at a fixed distance threshold ``t``."""
    return [
        ("distance only", Tolerances(0.5, 0.6, 0.0, t), False),
        ("+ runner-up margin", Tolerances(0.5, 0.6, margin, t), False),
        ("+ margin + cohort score", Tolerances(0.5, 0.6, margin, t, z), False),
        ("+ margin + cohort + size gate 60 px", Tolerances(0.5, 0.6, margin, t, z, frozenset(), 60), False),
        ("+ margin + cohort + every reference agrees", Tolerances(0.5, 0.6, margin, t, z), True),
    ]


def evaluate_agreeing(gallery, tol, probes, vectors, ref_ids, refs):
    """As :func:`evaluate`, identified only when every reference photo of the person is within
    ``review`` of the face (agreement across a person's several references)."""
    owners = np.asarray(ref_ids, dtype=object)
    c = {"faces": 0, "true": 0, "false": 0, "held": 0, "genuine": 0}
    for (kind, truth, size), v in zip(probes, vectors):
        truths = truth if isinstance(truth, list) else ([truth] if truth else [])
        c["faces"] += 1
        c["genuine"] += bool(truths)
        m = gallery.match(v, tol, size)
        if m.match == "identified" and np.linalg.norm(refs[owners == m.person_id] - v, axis=1).max() > tol.review:
            c["held"] += 1
            continue
        if m.match == "identified":
            c["true" if m.person_id in truths else "false"] += 1
        elif m.match == "uncertain":
            c["held"] += 1
    return c


def homogeneous(people, lfw, target):
    """Register B: only the LFW faces, one source and one size like a school's own portraits."""
    from processors import dlib_resnet

    chips = [c for _, c in lfw]
    enrolled, never = chips[0::2], chips[1::2]
    ref_ids, ref_chips = [], []
    for i, c in enumerate(enrolled):
        ref_ids += [f"L{i}", f"L{i}"]
        ref_chips += [c, relit(c)]
    refs = dlib_resnet.descriptors(ref_chips)
    probes, chips_out = [], []
    for i, c in enumerate(enrolled):
        probes += [("enrolled, mirrored reference", f"L{i}", 25), ("enrolled, aged/warped", f"L{i}", 25)]
        chips_out += [mirrored(c), aged(c)]
    for i, c in enumerate(never):
        probes += [("never enrolled (LFW)", None, 25), ("never enrolled, mirrored (LFW)", None, 25)]
        chips_out += [c, mirrored(c)]
        probes.append(("look-alike (half a pupil, half a stranger)", None, 25))
        chips_out.append(blend(enrolled[i % len(enrolled)], c))
    for p in sorted(people):
        if not p.startswith("lfw#"):
            size, c = people[p][0]
            probes.append(("never enrolled (fixture faces)", None, size))
            chips_out.append(c)
    vectors = dlib_resnet.descriptors(chips_out)
    cal = calibrate(ref_ids, refs, target=target)
    gallery = Gallery(ref_ids, refs)
    base = Tolerances()
    print()
    print(f"Register B (homogeneous): {cal.people} LFW people, {len(refs)} reference photos; probes: {len(probes)} faces.")
    print(f"Calibration: {cal.note}")
    header = f"{'rule':48} {'false ids':>9} {'true ids':>12} {'held/redacted':>13}"
    print(header)
    print("-" * len(header))
    out = {"calibration": cal.to_json()}
    for name, tol, peer in rules(cal, base):
        c = evaluate(gallery, tol, probes, vectors, peer=peer)
        out[name] = c
        print(f"{name:48} {c['false']:>9} {c['true']:>5}/{c['genuine']:<6} {c['held'] / c['faces']:>12.1%}")
    c = out[rules(cal, base)[2][0]]
    for kind, k in c["by_kind"].items():
        print(f"  {kind:45} {k['faces']:>4} faces: default {k['true']:>3} true {k['false']:>3} false {k['held']:>3} held")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--target", type=float, default=1e-4)
    args = ap.parse_args(argv)
    if not FIXTURES.is_dir():
        print(f"needs the fixtures at {FIXTURES}", file=sys.stderr)
        return 2
    started = time.time()
    people, events, lfw = collect()
    ref_ids, refs, probes, vectors = build(people, events, lfw)
    cal = calibrate(ref_ids, refs, target=args.target)
    gallery = Gallery(ref_ids, refs)
    base = Tolerances()
    print(f"Register: {len(set(ref_ids))} people, {len(refs)} reference photos. Probes: {len(probes)} faces "
          f"({sum(1 for p in probes if p[1])} of enrolled people, {sum(1 for p in probes if not p[1])} never enrolled).")
    print(f"Calibration: {cal.note}")
    print(f"  threshold {cal.threshold:.3f}, cohort score <= {cal.z_threshold}, look-alike pairs "
          f"{len(cal.lookalike_pairs)}, fit {json.dumps(cal.fit)}")
    print()
    header = f"{'rule':48} {'false ids':>9} {'true ids':>12} {'held/redacted':>13}"
    print(header)
    print("-" * len(header))
    results = {}
    for name, tol, peer in rules(cal, base):
        c = evaluate(gallery, tol, probes, vectors, peer=peer)
        results[name] = c
        print(f"{name:48} {c['false']:>9} {c['true']:>5}/{c['genuine']:<6} {c['held'] / c['faces']:>12.1%}")
    print()
    print("Per kind of face, default rule (true / false identifications, held or redacted as uncertain):")
    c = results[rules(cal, base)[2][0]]
    peer = results["face_recognition compare_faces 0.6 (peer)"]
    old = results["old fixed rule: 0.5, margin 0.06"]
    for kind, k in c["by_kind"].items():
        print(f"  {kind:45} {k['faces']:>4} faces: default {k['true']:>3} true {k['false']:>3} false {k['held']:>3} held | "
              f"old rule {old['by_kind'][kind]['true']:>3} true {old['by_kind'][kind]['false']:>3} false | "
              f"peer {peer['by_kind'][kind]['true']:>3} true {peer['by_kind'][kind]['false']:>3} false")
    print()
    z_normal = NormalDist().inv_cdf(args.target / cal.people)
    print("What each measure does, as the distance threshold changes (false ids / true ids / held or redacted);")
    print(f"cohort score at the normal quantile of target / people ({z_normal:.2f}), not the register's own tail:")
    names = [name for name, _, _ in measures(0.3, z_normal, base.margin)]
    print(f"  {'threshold':>9}  " + "  ".join(f"{n:>26}" for n in names))
    sweep_out = {}
    for t in (0.20, 0.25, 0.30, 0.35, 0.40, 0.45):
        cells = []
        for name, tol, agree in measures(t, z_normal, base.margin):
            r = (evaluate_agreeing(gallery, tol, probes, vectors, ref_ids, refs) if agree
                 else evaluate(gallery, tol, probes, vectors))
            sweep_out[f"{t:.2f} {name}"] = {k: r[k] for k in ("false", "true", "held", "faces")}
            cells.append(f"{r['false']:>4} / {r['true']:>3} / {r['held'] / r['faces']:>5.1%}")
        print(f"  {t:>9.2f}  " + "  ".join(f"{c:>26}" for c in cells))
    results["sweep"] = sweep_out
    results["homogeneous"] = homogeneous(people, lfw, args.target)
    print(f"\n({time.time() - started:.0f} s)")
    if args.json:
        print(json.dumps({"calibration": cal.to_json(), "results": results}, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
