"""dlib's recognition network on ONNX Runtime gives dlib's own descriptors; its built model is cached safely."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.conftest import fixtures_dir


def _package_faces() -> list[np.ndarray]:
    """Real faces that ship inside installed packages (the demo's): Eileen Collins, Grace Hopper."""
    import matplotlib
    import skimage
    from PIL import Image

    return [np.asarray(Image.open(p).convert("RGB")) for p in (
        Path(skimage.__file__).parent / "data" / "astronaut.png",
        Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg")]


def _dlib_and_ours(images: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
    """For every face dlib's HOG detector finds: (dlib's own descriptor, ours) from the same 5 points."""
    from processors import dlib_models, dlib_resnet

    detector, points = dlib_models.load("hog_detector"), dlib_models.load("landmarks_5")
    reference = dlib_models.load("recognition")
    pairs = []
    for rgb in images:
        shapes = [points(rgb, r) for r in detector(rgb, 1)]
        ours = dlib_resnet.descriptors([dlib_resnet.chip(rgb, s) for s in shapes])
        for shape, mine in zip(shapes, ours):
            pairs.append((np.asarray(reference.compute_face_descriptor(rgb, shape, 0)), mine))
    return pairs


def test_descriptors_equal_dlibs_on_package_faces():
    pairs = _dlib_and_ours(_package_faces())
    assert len(pairs) >= 2  # (HOG also reports a face-like patch in the astronaut photo: compared too)
    for theirs, ours in pairs:
        assert ours.shape == (128,)
        assert np.abs(theirs - ours).max() < 1e-4  # matching works at 0.5 (Euclidean distance)


@pytest.mark.fixtures
def test_descriptors_equal_dlibs_on_every_fixture_face():
    from PIL import Image

    folders = [fixtures_dir("faces", "events"), fixtures_dir("faces", "enrol")]
    images = [np.asarray(Image.open(p).convert("RGB")) for f in folders for p in sorted(f.rglob("*.jp*g"))]
    pairs = _dlib_and_ours(images)
    assert len(pairs) >= 19
    worst = max(float(np.linalg.norm(theirs - ours)) for theirs, ours in pairs)
    assert worst < 1e-4, f"largest distance between dlib's descriptor and ours: {worst}"
    # and the descriptors still tell people apart as dlib's do: same person close, others far
    obama = _dlib_and_ours([np.asarray(Image.open(fixtures_dir("faces", "enrol", "obama") / "obama.jpg").convert("RGB"))])
    biden = _dlib_and_ours([np.asarray(Image.open(fixtures_dir("faces", "enrol", "biden") / "biden.jpg").convert("RGB"))])
    assert np.linalg.norm(obama[0][1] - biden[0][1]) > 0.6


def test_a_batch_gives_the_same_descriptors_as_one_by_one():
    from processors import dlib_models, dlib_resnet

    rgb = _package_faces()[0]
    shape = dlib_models.load("landmarks_5")(rgb, dlib_models.load("hog_detector")(rgb, 1)[0])
    chip = dlib_resnet.chip(rgb, shape)
    alone = dlib_resnet.descriptors([chip])[0]
    batch = dlib_resnet.descriptors([chip, np.ascontiguousarray(chip[:, ::-1]), chip])
    assert np.abs(batch[0] - alone).max() < 1e-5 and np.abs(batch[2] - alone).max() < 1e-5
    assert np.linalg.norm(batch[1] - alone) > 1e-3  # the mirrored face is a different input
    assert dlib_resnet.descriptors([]).shape == (0, 128)
    crowd = dlib_resnet.descriptors([chip] * (dlib_resnet._BATCH + 3))  # more faces than one network run takes
    assert crowd.shape == (dlib_resnet._BATCH + 3, 128) and np.abs(crowd - alone).max() < 1e-5


def test_a_model_file_of_another_shape_is_refused():
    from processors import dlib_models
    from processors.dlib_resnet import ModelFormatError, read_model

    with pytest.raises(ModelFormatError):
        read_model(Path(dlib_models.model_path("landmarks_5")).read_bytes())
    data = Path(dlib_models.model_path("recognition")).read_bytes()
    with pytest.raises(ModelFormatError):
        read_model(data[: len(data) // 2])  # cut short: fewer layers than dlib's network


# -- the model cache ------------------------------------------------------------------------------

def test_model_is_built_once_then_read_from_the_cache(tmp_path, monkeypatch):
    from processors import model_cache

    monkeypatch.setenv("CONSENT_PIPELINE_CACHE", str(tmp_path / "cache"))
    source = tmp_path / "source.bin"
    source.write_bytes(b"model source")
    builds = []

    def build():
        builds.append(1)
        return b"built model"

    assert model_cache.load_or_build("m", source, "1", build, lambda b: b.decode()) == "built model"
    assert model_cache.load_or_build("m", source, "1", build, lambda b: b.decode()) == "built model"
    assert len(builds) == 1
    assert [p.name for p in (tmp_path / "cache").iterdir() if p.name.endswith(".tmp")] == []  # no temporary left
    # a new builder version, or a changed source, is built afresh; a copy of the source elsewhere is not
    model_cache.load_or_build("m", source, "2", build, lambda b: b.decode())
    assert len(builds) == 2
    source.write_bytes(b"model source, version 2")
    model_cache.load_or_build("m", source, "2", build, lambda b: b.decode())
    assert len(builds) == 3
    elsewhere = tmp_path / "other install" / "source.bin"
    elsewhere.parent.mkdir()
    elsewhere.write_bytes(source.read_bytes())
    model_cache.load_or_build("m", elsewhere, "2", build, lambda b: b.decode())
    assert len(builds) == 3


def test_a_damaged_cache_file_is_rebuilt(tmp_path, monkeypatch):
    from processors import model_cache

    monkeypatch.setenv("CONSENT_PIPELINE_CACHE", str(tmp_path / "cache"))
    source = tmp_path / "source.bin"
    source.write_bytes(b"x")

    def check(data: bytes):
        if data != b"good":
            raise ValueError("damaged")
        return data

    model_cache.load_or_build("m", source, "1", lambda: b"good", check)
    (cached,) = (tmp_path / "cache").glob("*.onnx")
    cached.write_bytes(b"go")  # damaged
    assert model_cache.load_or_build("m", source, "1", lambda: b"good", check) == b"good"
    assert cached.read_bytes() == b"good"


def test_an_unwritable_cache_only_costs_time(tmp_path, monkeypatch):
    from processors import model_cache

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("CONSENT_PIPELINE_CACHE", str(blocker / "cache"))
    source = tmp_path / "source.bin"
    source.write_bytes(b"x")
    assert model_cache.load_or_build("m", source, "1", lambda: b"built", bytes) == b"built"


def test_a_worker_with_a_warm_cache_loads_both_models_without_importing_onnx(tmp_path):
    """The point of the cache: ``import onnx`` costs ~1 s per process; with the built models on disk
    a worker loads CenterFace (float and int8) and dlib's network from them and never imports it."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "CONSENT_PIPELINE_CACHE": str(tmp_path / "cache")}
    load = "import sys; from pipeline.batch.executor import warm_models; warm_models(); print('onnx' in sys.modules)"
    cold = subprocess.run([sys.executable, "-c", load], env=env, capture_output=True, text=True, check=True)
    warm = subprocess.run([sys.executable, "-c", load], env=env, capture_output=True, text=True, check=True)
    assert cold.stdout.strip() == "True"   # built (and cached) the first time
    assert warm.stdout.strip() == "False"  # read from the cache afterwards
    assert sorted(p.name.rsplit("-", 1)[0] for p in (tmp_path / "cache").glob("*.onnx")) == [
        "centerface", "centerface-int8", "dlib-resnet"]
    # the second process saved each model's optimised graph, which later processes start from
    assert len(list((tmp_path / "cache").glob("*.ort"))) == 3


def _tiny_onnx() -> bytes:
    """y = relu(x * 2 + 1): a real model ONNX Runtime optimises (and can save optimised)."""
    import onnx
    from onnx import TensorProto, helper

    two = helper.make_tensor("two", TensorProto.FLOAT, [1], [2.0])
    one = helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0])
    graph = helper.make_graph(
        [helper.make_node("Mul", ["x", "two"], ["m"]), helper.make_node("Add", ["m", "one"], ["a"]),
         helper.make_node("Relu", ["a"], ["y"])], "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N"])], initializer=[two, one])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString()


def test_sessions_start_from_the_saved_optimised_graph_and_survive_a_damaged_one(tmp_path, monkeypatch):
    from processors import model_cache

    monkeypatch.setenv("CONSENT_PIPELINE_CACHE", str(tmp_path / "cache"))
    source = tmp_path / "source.bin"
    source.write_bytes(b"x")
    x = np.array([-3.0, 0.5, 2.0], np.float32)
    expected = np.maximum(x * 2 + 1, 0)

    def run(session):
        return session.run(None, {"x": x})[0]

    first = model_cache.load_or_build("tiny", source, "1", _tiny_onnx, model_cache.onnx_session)  # built
    second = model_cache.load_or_build("tiny", source, "1", _tiny_onnx, model_cache.onnx_session)  # saves .ort
    (saved,) = (tmp_path / "cache").glob("*.ort")
    used = []
    real = model_cache._optimised_session
    monkeypatch.setattr(model_cache, "_optimised_session", lambda p: used.append(p) or real(p))
    third = model_cache.load_or_build("tiny", source, "1", _tiny_onnx, model_cache.onnx_session)
    assert used and real(used[0]) is not None  # the third session came from the saved graph
    for s in (first, second, third):
        assert np.array_equal(run(s), expected)
    saved.write_bytes(saved.read_bytes()[:40])  # damaged: the ONNX model is used and the graph saved again
    fourth = model_cache.load_or_build("tiny", source, "1", _tiny_onnx, model_cache.onnx_session)
    assert np.array_equal(run(fourth), expected)
    assert real(used[0]) is not None
    assert [p for p in (tmp_path / "cache").iterdir() if p.name.endswith(".tmp")] == []


def test_builds_unused_for_a_month_are_removed_when_a_newer_one_is_built(tmp_path, monkeypatch):
    import os
    import time

    from processors import model_cache

    cache = tmp_path / "cache"
    monkeypatch.setenv("CONSENT_PIPELINE_CACHE", str(cache))
    source = tmp_path / "source.bin"
    source.write_bytes(b"x")
    model_cache.load_or_build("m", source, "1", lambda: b"v1", bytes)
    model_cache.load_or_build("m-int8", source, "1", lambda: b"other model", bytes)  # another name: kept
    (old,) = cache.glob("m-????????????????????????.onnx")
    stale_ort = old.with_name(old.stem + ".0123456789ab.ort")
    stale_ort.write_bytes(b"saved graph")
    month_ago = time.time() - 31 * 86400
    for p in (old, stale_ort):
        os.utime(p, (month_ago, month_ago))
    model_cache.load_or_build("m", source, "2", lambda: b"v2", bytes)  # an upgrade: a new build
    names = sorted(p.name for p in cache.iterdir() if p.suffix in (".onnx", ".ort"))
    assert old.name not in names and stale_ort.name not in names
    assert len([n for n in names if n.startswith("m-int8-")]) == 1 and len(names) == 2
    # a build still in use (read within the month) is kept
    recent = cache / ("m-" + "f" * 24 + ".onnx")
    recent.write_bytes(b"used by another install")
    model_cache.load_or_build("m", source, "3", lambda: b"v3", bytes)
    assert recent.exists()
