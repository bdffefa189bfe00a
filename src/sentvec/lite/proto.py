"""Just enough of the ONNX file format to write an encoder graph, without the ``onnx`` package.

An ONNX model is a protobuf message (onnx/onnx.proto in the ONNX repository defines the field
numbers used below). Writing the few messages a graph needs takes a page of code, where the
``onnx`` package costs 30 MB on disk and several seconds to import on a small machine; onnxruntime
reads the bytes directly. tests/test_lite.py parses our output with the ``onnx`` package to check it.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

import numpy as np

IR_VERSION = 8  # understood by every onnxruntime >= 1.10
FLOAT, INT64 = 1, 7  # TensorProto.DataType
_DTYPES = {np.dtype(np.float32): FLOAT, np.dtype(np.int64): INT64}
_ATTR_FLOAT, _ATTR_INT, _ATTR_INTS = 1, 2, 7  # AttributeProto.AttributeType


Chunks = list[bytes | memoryview]  # a message as pieces: weights are never copied until the final join


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative int64 values are written as their two's complement
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _key(field: int, wire_type: int) -> bytes:
    return _varint(field << 3 | wire_type)


def _int(field: int, value: int) -> Chunks:
    return [_key(field, 0) + _varint(value)]


def _bytes(field: int, value: bytes | str | memoryview) -> Chunks:
    data = value.encode() if isinstance(value, str) else value
    return [_key(field, 2) + _varint(len(data)), data]


def _message(field: int, chunks: Chunks) -> Chunks:
    return [_key(field, 2) + _varint(sum(len(c) for c in chunks)), *chunks]


def _float(field: int, value: float) -> Chunks:
    return [_key(field, 5) + struct.pack("<f", value)]


def tensor(name: str, array: np.ndarray) -> Chunks:
    """TensorProto: dims (1), data_type (2), name (8), raw_data (9, little-endian)."""
    if array.dtype not in _DTYPES:
        raise TypeError(f"tensor {name!r} has dtype {array.dtype}; the graph writer takes float32 and int64")
    data = np.ascontiguousarray(array.astype(array.dtype.newbyteorder("<"), copy=False))
    dims = [c for d in array.shape for c in _int(1, d)]
    return [*dims, *_int(2, _DTYPES[array.dtype]), *_bytes(8, name), *_bytes(9, data.data.cast("B"))]


def node(op_type: str, inputs: Iterable[str], outputs: Iterable[str], **attributes: float | int | list[int]) -> Chunks:
    """NodeProto: input (1), output (2), name (3), op_type (4), attribute (5: name 1, f 2, i 3, ints 8, type 20)."""
    outputs = list(outputs)
    message = [c for i in inputs for c in _bytes(1, i)] + [c for o in outputs for c in _bytes(2, o)]
    message += _bytes(3, outputs[0]) + _bytes(4, op_type)  # named after its output, which is unique
    for name, value in attributes.items():
        if isinstance(value, list):
            body = _bytes(1, name) + [c for v in value for c in _int(8, v)] + _int(20, _ATTR_INTS)
        elif isinstance(value, float):
            body = _bytes(1, name) + _float(2, value) + _int(20, _ATTR_FLOAT)
        else:
            body = _bytes(1, name) + _int(3, value) + _int(20, _ATTR_INT)
        message += _message(5, body)
    return message


def value_info(name: str, elem_type: int, dims: Iterable[int | str]) -> Chunks:
    """ValueInfoProto: name (1), type (2) -> TypeProto.tensor_type (1) -> elem_type (1), shape (2) -> dim (1)
    -> dim_value (1) or dim_param (2)."""
    shape = [c for d in dims for c in _message(1, _int(1, d) if isinstance(d, int) else _bytes(2, d))]
    return _bytes(1, name) + _message(2, _message(1, _int(1, elem_type) + _message(2, shape)))


def model(
    nodes: list[Chunks],
    initializers: list[Chunks],
    inputs: list[Chunks],
    outputs: list[Chunks],
    *,
    name: str,
    opset: int,
    producer: str,
) -> bytes:
    """ModelProto: ir_version (1), producer_name (2), graph (7: node 1, name 2, initializer 5, input 11,
    output 12), opset_import (8: domain 1, version 2). Returns the file's bytes."""
    graph: Chunks = []
    for field, messages in ((1, nodes), (5, initializers), (11, inputs), (12, outputs)):
        for message in messages:
            graph += _message(field, message)
    graph += _bytes(2, name)
    chunks = (
        _int(1, IR_VERSION) + _bytes(2, producer) + _message(7, graph) + _message(8, _bytes(1, "") + _int(2, opset))
    )
    return b"".join(chunks)
