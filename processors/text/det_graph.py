"""Exact rewrites of the PP-OCRv4 text detector's graph, made before it is quantised to int8.

The detector (PP-LCNetV3 backbone, exported from Paddle) spells two things out in many small
operators, and after quantisation each of them is a pass over a whole feature map with its own
quantise / dequantise steps (about a third of the int8 detector's time on this CPU):

- a *learnable affine* after 28 convolutions: ``conv(x) * s + b`` with scalar ``s`` and ``b``. It is
  folded into the convolution itself (weights × s, bias × s + b): the same numbers, no operator;
- *hard-swish* as ``x * clip(x + 3, 0, 6) / 6`` (Add, Clip, Mul, Div; 24 times): replaced by ONNX's
  ``HardSwish`` operator (opset 14), which computes exactly that.

The float model's output is unchanged by both (measured: at most 2e-7 apart); the int8 model built
from the rewritten graph runs ~27% faster and stays closer to the float model (mean difference
of the text map 0.0006-0.0022 against 0.0014-0.0044 before, on the calibration scenes).
"""
from __future__ import annotations

import numpy as np

OPSET = 14  # HardSwish


def simplify(model) -> tuple[int, int]:
    """Rewrite ``model`` (an ``onnx.ModelProto`` at opset >= 14) in place; returns how many affine
    blocks were folded and how many hard-swish patterns replaced."""
    folded = _fold_affine(model.graph)
    fused = _fuse_hardswish(model.graph)
    _drop_unused_constants(model.graph)
    return folded, fused


def _tables(graph):
    producer = {o: n for n in graph.node for o in n.output}
    users: dict[str, list] = {}
    for n in graph.node:
        for i in n.input:
            users.setdefault(i, []).append(n)
    return producer, users


def _value(graph, name: str):
    """The array of a constant (initializer or Constant node) called ``name``, else None."""
    from onnx import numpy_helper

    for init in graph.initializer:
        if init.name == name:
            return numpy_helper.to_array(init)
    for n in graph.node:
        if n.op_type == "Constant" and n.output[0] == name and n.attribute and n.attribute[0].name == "value":
            return numpy_helper.to_array(n.attribute[0].t)
    return None


def _scalar(graph, name: str) -> float | None:
    v = _value(graph, name)
    return float(v.reshape(())) if v is not None and v.size == 1 else None


def _other(node, name: str) -> str:
    return next(i for i in node.input if i != name)


def _fold_affine(graph) -> int:
    """``Conv → Mul(scalar) → Add(scalar)`` (each the only user of the one before) → one Conv."""
    from onnx import numpy_helper

    producer, users = _tables(graph)
    drop: set[int] = set()
    count = 0
    for conv in list(graph.node):
        if conv.op_type != "Conv" or len(conv.input) < 2:
            continue
        (mul, *rest) = users.get(conv.output[0], [None])
        if rest or mul is None or mul.op_type != "Mul" or list(mul.input).count(conv.output[0]) != 1:
            continue
        (add, *rest) = users.get(mul.output[0], [None])
        if rest or add is None or add.op_type != "Add" or list(add.input).count(mul.output[0]) != 1:
            continue
        s, b = _scalar(graph, _other(mul, conv.output[0])), _scalar(graph, _other(add, mul.output[0]))
        weights = _value(graph, conv.input[1])
        if s is None or b is None or weights is None or any(o in [g.name for g in graph.output] for o in (conv.output[0], mul.output[0])):
            continue
        bias = _value(graph, conv.input[2]) if len(conv.input) > 2 else np.zeros(weights.shape[0], np.float32)
        if bias is None:
            continue
        w_name, b_name = f"{conv.name or conv.output[0]}_affine_w", f"{conv.name or conv.output[0]}_affine_b"
        graph.initializer.append(numpy_helper.from_array((weights * s).astype(np.float32), w_name))
        graph.initializer.append(numpy_helper.from_array((bias * s + b).astype(np.float32), b_name))
        conv.input[1] = w_name
        if len(conv.input) > 2:
            conv.input[2] = b_name
        else:
            conv.input.append(b_name)
        conv.output[0] = add.output[0]
        drop.update((id(mul), id(add)))
        count += 1
    kept = [n for n in graph.node if id(n) not in drop]
    del graph.node[:]
    graph.node.extend(kept)
    return count


def _fuse_hardswish(graph) -> int:
    """``Div(Mul(x, Clip(Add(x, 3), 0, 6)), 6)`` → ``HardSwish(x)``."""
    from onnx import helper

    producer, users = _tables(graph)
    replace: dict[int, object] = {}
    drop: set[int] = set()
    for div in list(graph.node):
        if div.op_type != "Div" or _scalar(graph, div.input[1]) != 6.0:
            continue
        mul = producer.get(div.input[0])
        if mul is None or mul.op_type != "Mul" or len(users.get(mul.output[0], [])) != 1:
            continue
        clip = next((producer[i] for i in mul.input if i in producer and producer[i].op_type == "Clip"), None)
        if clip is None or len(users.get(clip.output[0], [])) != 1 or len(clip.input) != 3:
            continue
        x = _other(mul, clip.output[0])
        add = producer.get(clip.input[0])
        if add is None or add.op_type != "Add" or x not in add.input or len(users.get(add.output[0], [])) != 1:
            continue
        if (_scalar(graph, _other(add, x)), _scalar(graph, clip.input[1]), _scalar(graph, clip.input[2])) != (3.0, 0.0, 6.0):
            continue
        replace[id(div)] = helper.make_node("HardSwish", [x], [div.output[0]], name=f"{div.name or div.output[0]}_hardswish")
        drop.update((id(add), id(clip), id(mul)))
    nodes = [replace.get(id(n), n) for n in graph.node if id(n) not in drop]
    del graph.node[:]
    graph.node.extend(nodes)
    return len(replace)


def _drop_unused_constants(graph) -> None:
    """Constants and initializers nothing reads any more (ONNX Runtime would warn about each)."""
    used = {i for n in graph.node for i in n.input} | {o.name for o in graph.output}
    nodes = [n for n in graph.node if n.op_type != "Constant" or n.output[0] in used]
    del graph.node[:]
    graph.node.extend(nodes)
    inits = [i for i in graph.initializer if i.name in used]
    del graph.initializer[:]
    graph.initializer.extend(inits)
