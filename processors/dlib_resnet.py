"""dlib's face-recognition network, read from dlib's own model file and run on ONNX Runtime.

The descriptors are dlib's: the same trained ResNet (``dlib_face_recognition_resnet_model_v1.dat``
from ``face_recognition_models``), fed the same 150×150 face chip that dlib cuts out itself
(``dlib.get_face_chip``, from dlib's 5 landmarks). Only the arithmetic engine differs: the
prebuilt ``dlib-bin`` wheel has no BLAS and needs ~0.1 s per face on these 2-core machines,
ONNX Runtime (already used for CenterFace) runs the same layers several times faster. Outputs
agree with ``dlib.face_recognition_model_v1.compute_face_descriptor`` to ~1e-6 (far below the
0.5 matching tolerance); ``tests/test_dlib_resnet.py`` checks it on real faces.

The file holds dlib's serialisation of the network (dlib/dnn/core.h, layers.h): layers from the
input upwards, each parameter tensor as little-endian float32, integers in dlib's compact form
(a byte giving the length, bit 7 the sign, then the value's bytes little-endian). We read the
parameter tensors of the convolution, affine (folded batch norm) and fully-connected layers in
order and check that they chain into the architecture of dlib's example
``dnn_face_recognition_ex.cpp`` (``anet_type``); a file of another shape is refused, never guessed.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CHIP_SIZE, CHIP_PADDING = 150, 0.25
# Faces per network run: 7 ms a face in a batch against 8.5 ms alone; more only costs memory.
_BATCH = 16

_local = threading.local()


class ModelFormatError(RuntimeError):
    pass


@dataclass
class _Conv:
    weight: np.ndarray  # (out, in, kh, kw)
    bias: np.ndarray
    stride: int
    padding: int


@dataclass
class _Net:
    means: tuple[float, float, float]
    convs: list[_Conv]
    affines: list[tuple[np.ndarray, np.ndarray]]  # (gamma, beta) per conv
    fc: np.ndarray  # (inputs, outputs)


# -- reading dlib's serialisation ---------------------------------------------------------------

class _Reader:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def int(self) -> int:
        if self.pos >= len(self.data):
            raise ModelFormatError("the file ends early")
        head = self.data[self.pos]
        size, negative = head & 0x0F, head & 0x80
        if not 1 <= size <= 8:
            raise ModelFormatError(f"bad integer at byte {self.pos}")
        value = int.from_bytes(self.data[self.pos + 1:self.pos + 1 + size], "little")
        self.pos += 1 + size
        return -value if negative else value

    def float(self) -> float:
        mantissa, exponent = self.int(), self.int()
        return float(mantissa) * 2.0 ** exponent

    def tensor(self) -> np.ndarray:
        if self.int() != 2:
            raise ModelFormatError(f"unknown tensor version at byte {self.pos}")
        shape = tuple(self.int() for _ in range(4))
        count = int(np.prod(shape))
        if count < 0 or self.pos + 4 * count > len(self.data):
            raise ModelFormatError(f"tensor runs past the end of the file at byte {self.pos}")
        values = np.frombuffer(self.data, dtype="<f4", count=count, offset=self.pos)
        self.pos += 4 * count
        return values.reshape(shape).astype(np.float32)

    def seek(self, name: str) -> bool:
        """Move just past the next serialised string ``name``; False if there is none."""
        raw = name.encode()
        found = self.data.find(bytes([1, len(raw)]) + raw, self.pos)
        if found < 0:
            return False
        self.pos = found + 2 + len(raw)
        return True


def read_model(data: bytes) -> _Net:
    r = _Reader(data)
    if not r.seek("input_rgb_image_sized"):
        raise ModelFormatError("no input layer")
    means = (r.float(), r.float(), r.float())
    layers: list[tuple[str, object]] = []
    markers = {n: bytes([1, len(n)]) + n.encode() for n in ("con_4", "affine_", "fc_2")}
    ahead = {n: r.data.find(m, r.pos) for n, m in markers.items()}  # next occurrence of each (-1: none)
    while True:
        for n, marker in markers.items():
            if 0 <= ahead[n] < r.pos:
                ahead[n] = r.data.find(marker, r.pos)
        candidates = [(p, n) for n, p in ahead.items() if p >= 0]
        if not candidates:
            break
        _, name = min(candidates)
        r.pos = ahead[name] + len(markers[name])
        if name == "con_4":
            params = r.tensor().ravel()
            filters, nr, nc, sy, sx, py, px = (r.int() for _ in range(7))
            if filters < 1 or sy != sx or py != px or nr != nc or nr < 1:
                raise ModelFormatError("unexpected convolution shape")
            inputs = (params.size - filters) // (filters * nr * nc)
            if inputs * filters * nr * nc + filters != params.size:
                raise ModelFormatError("convolution parameters do not add up")
            w = params[: inputs * filters * nr * nc].reshape(filters, inputs, nr, nc)
            layers.append(("con", _Conv(w, params[-filters:].copy(), sy, py)))
        elif name == "affine_":
            params = r.tensor().ravel()
            half = params.size // 2
            layers.append(("affine", (params[:half].copy(), params[half:].copy())))
        else:
            outputs, inputs = r.int(), r.int()
            params = r.tensor()
            if params.shape[:2] != (inputs, outputs):
                raise ModelFormatError("fully-connected parameters do not add up")
            layers.append(("fc", params.reshape(inputs, outputs)))
            break
    kinds = [k for k, _ in layers]
    if kinds != ["con", "affine"] * 29 + ["fc"]:
        raise ModelFormatError("the network is not dlib's face-recognition ResNet")
    convs = [v for k, v in layers if k == "con"]
    affines = [v for k, v in layers if k == "affine"]
    shapes = [(c.weight.shape[0], c.weight.shape[1], c.weight.shape[2], c.stride, c.padding) for c in convs]
    if shapes != list(_expected_convs()) or layers[-1][1].shape != (256, 128):
        raise ModelFormatError("the network's layers are not those of dlib's face-recognition ResNet")
    for conv, (gamma, _) in zip(convs, affines):
        if gamma.size != conv.weight.shape[0]:
            raise ModelFormatError("affine layer does not match its convolution")
    return _Net(means, convs, affines, layers[-1][1])


def _expected_convs():
    """(filters, inputs, kernel, stride, padding) of each convolution, input side first."""
    yield 32, 3, 7, 2, 0
    channels = 32
    for filters, blocks, down in _LEVELS:
        for block in range(blocks):
            first_down = block == 0 and down
            yield filters, channels, 3, 2 if first_down else 1, 0 if first_down else 1
            yield filters, filters, 3, 1, 1
            channels = filters


# -- the same network as an ONNX graph ---------------------------------------------------------

# (filters, blocks, first block halves the size) per level, input side first: dlib's alevel4..alevel0.
_LEVELS = ((32, 3, False), (64, 4, True), (128, 3, True), (256, 3, True), (256, 1, True))


def build_onnx(net: _Net) -> bytes:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes, weights = [], []
    counter = iter(range(10_000))

    def name(prefix: str) -> str:
        return f"{prefix}{next(counter)}"

    def const(array: np.ndarray) -> str:
        n = name("w")
        weights.append(numpy_helper.from_array(np.ascontiguousarray(array, dtype=np.float32), n))
        return n

    convs = iter(zip(net.convs, net.affines))

    def conv_affine(x: str, relu: bool) -> str:
        conv, (gamma, beta) = next(convs)
        # affine after convolution folds into it: gamma·(W*x + b) + beta.
        w = conv.weight * gamma[:, None, None, None]
        b = conv.bias * gamma + beta
        k = conv.weight.shape[2]
        out = name("c")
        nodes.append(helper.make_node("Conv", [x, const(w), const(b)], [out], kernel_shape=[k, k],
                                      strides=[conv.stride] * 2, pads=[conv.padding] * 4))
        if relu:
            out2 = name("r")
            nodes.append(helper.make_node("Relu", [out], [out2]))
            out = out2
        return out

    def pad(x: str, channels: int, rows: int) -> str:
        """Zeros after the last channels and rows/columns (dlib's add_prev adds tensors of
        different sizes into one of the larger size, the smaller one zero-padded)."""
        if channels == 0 and rows == 0:
            return x
        out = name("z")
        pads = const_int(helper, weights, name("pads"), [0, 0, 0, 0, 0, channels, rows, rows])
        nodes.append(helper.make_node("Pad", [x, pads], [out], mode="constant"))
        return out

    # dlib's input_rgb_image layer: (pixel - mean of its channel) / 256, channels first.
    nchw, centred, scaled = name("t"), name("m"), name("d")
    nodes.append(helper.make_node("Transpose", ["chip"], [nchw], perm=[0, 3, 1, 2]))
    nodes.append(helper.make_node("Sub", [nchw, const(np.array(net.means, np.float32).reshape(1, 3, 1, 1))], [centred]))
    nodes.append(helper.make_node("Mul", [centred, const(np.array(1 / 256, np.float32))], [scaled]))
    x = conv_affine(scaled, relu=True)
    pooled = name("p")
    nodes.append(helper.make_node("MaxPool", [x], [pooled], kernel_shape=[3, 3], strides=[2, 2]))
    x, channels = pooled, 32
    size = _out(_out(CHIP_SIZE, 7, 2, 0), 3, 2, 0)
    for filters, blocks, down in _LEVELS:
        for block in range(blocks):
            y = conv_affine(conv_affine(x, relu=True), relu=False)
            shortcut = x
            if block == 0 and down:
                avg = name("a")
                nodes.append(helper.make_node("AveragePool", [x], [avg], kernel_shape=[2, 2], strides=[2, 2]))
                block_size, avg_size = _out(size, 3, 2, 0), _out(size, 2, 2, 0)
                size = max(block_size, avg_size)
                y = pad(y, 0, size - block_size)
                shortcut = pad(avg, filters - channels, size - avg_size)
                channels = filters
            s, r = name("s"), name("r")
            nodes.append(helper.make_node("Add", [y, shortcut], [s]))
            nodes.append(helper.make_node("Relu", [s], [r]))
            x = r
    g, flat = name("g"), name("f")
    nodes.append(helper.make_node("GlobalAveragePool", [x], [g]))
    nodes.append(helper.make_node("Flatten", [g], [flat], axis=1))
    nodes.append(helper.make_node("MatMul", [flat, const(net.fc)], ["descriptor"]))
    graph = helper.make_graph(
        nodes, "dlib_face_recognition_resnet_v1",
        [helper.make_tensor_value_info("chip", TensorProto.FLOAT, ["N", CHIP_SIZE, CHIP_SIZE, 3])],
        [helper.make_tensor_value_info("descriptor", TensorProto.FLOAT, ["N", net.fc.shape[1]])],
        initializer=weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def _out(size: int, kernel: int, stride: int, padding: int) -> int:
    return 1 + (size + 2 * padding - kernel) // stride


def const_int(helper, weights: list, n: str, values: list[int]) -> str:
    from onnx import TensorProto

    weights.append(helper.make_tensor(n, TensorProto.INT64, [len(values)], values))
    return n


# -- running it ---------------------------------------------------------------------------------

@dataclass
class _Loaded:
    session: object


# Bump when read_model/build_onnx change what they build, so cached copies are rebuilt.
_BUILD_VERSION = "1"


def _load() -> _Loaded:
    loaded = getattr(_local, "loaded", None)
    if loaded is None:
        from processors import dlib_models
        from processors.model_cache import load_or_build, onnx_session

        source = Path(dlib_models.model_path("recognition"))
        session = load_or_build("dlib-resnet", source, _BUILD_VERSION,
                                lambda: build_onnx(read_model(source.read_bytes())), onnx_session)
        loaded = _local.loaded = _Loaded(session)
    return loaded


def chip(rgb: np.ndarray, shape) -> np.ndarray:
    """dlib's own 150×150 aligned face chip for a 5- or 68-point ``shape``."""
    import dlib

    return dlib.get_face_chip(np.ascontiguousarray(rgb), shape, size=CHIP_SIZE, padding=CHIP_PADDING)


def descriptors(chips: list[np.ndarray]) -> np.ndarray:
    """128-number descriptors (float64, one row per chip), as dlib's network computes them."""
    if not chips:
        return np.zeros((0, 128))
    session = _load().session
    out = []
    for start in range(0, len(chips), _BATCH):  # bounded, so a crowd photo does not grow memory
        batch = np.stack([np.asarray(c, dtype=np.float32) for c in chips[start:start + _BATCH]])  # N×150×150×RGB
        out.append(session.run(["descriptor"], {"chip": batch})[0])
    return np.concatenate(out).astype(np.float64)


def warm() -> None:
    _load()

