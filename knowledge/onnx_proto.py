"""The few ONNX protobuf messages the MiniLM graph needs, encoded by hand.

The runtime set builds its ONNX graph once from the packaged weights; the `onnx` package (with
ml_dtypes, 28 MB installed) was only there for `onnx.helper`. Protobuf's wire format is small:
varints, length-prefixed fields and fixed32 floats, written in field-number order with proto2's
unpacked repeated scalars, so the bytes equal `onnx.helper`'s (tests/knowledge/test_onnx_proto.py).
Field numbers are those of onnx/onnx.proto.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence

import numpy as np

FLOAT = 1  # TensorProto.DataType
INT32 = 6
INT64 = 7
FLOAT16 = 10
_DATA_TYPES = {
    np.dtype(np.float32): FLOAT,
    np.dtype(np.int32): INT32,
    np.dtype(np.int64): INT64,
    np.dtype(np.float16): FLOAT16,
}
_ATTR_FLOAT, _ATTR_INT, _ATTR_INTS = 1, 2, 7  # AttributeProto.AttributeType

Attribute = int | float | Sequence[int]


def _varint(value: int) -> bytes:
    """Base-128 varint; negative int64 values take ten bytes (two's complement), as protobuf does."""
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _int(field: int, value: int) -> bytes:
    return _varint(field << 3) + _varint(value)


def _bytes(field: int, value: bytes) -> bytes:
    return _varint(field << 3 | 2) + _varint(len(value)) + value


def _str(field: int, value: str) -> bytes:
    return _bytes(field, value.encode())


def _float(field: int, value: float) -> bytes:
    return _varint(field << 3 | 5) + struct.pack("<f", value)


def tensor(name: str, array: np.ndarray) -> bytes:
    """TensorProto with raw little-endian data (what onnx.numpy_helper.from_array writes)."""
    array = np.ascontiguousarray(array)
    data_type = _DATA_TYPES[array.dtype]
    dims = b"".join(_int(1, d) for d in array.shape)
    raw = array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
    return dims + _int(2, data_type) + _str(8, name) + _bytes(9, raw)


def _attribute(name: str, value: Attribute) -> bytes:
    if isinstance(value, bool | int):
        return _str(1, name) + _int(3, int(value)) + _int(20, _ATTR_INT)
    if isinstance(value, float):
        return _str(1, name) + _float(2, value) + _int(20, _ATTR_FLOAT)
    ints = b"".join(_int(8, int(v)) for v in value)
    return _str(1, name) + ints + _int(20, _ATTR_INTS)


def node(op_type: str, inputs: Sequence[str], outputs: Sequence[str], **attrs: Attribute) -> bytes:
    """NodeProto; attributes sorted by name, as onnx.helper.make_node orders them."""
    body = b"".join(_str(1, i) for i in inputs) + b"".join(_str(2, o) for o in outputs)
    body += _str(4, op_type)
    return body + b"".join(_bytes(5, _attribute(k, v)) for k, v in sorted(attrs.items()))


def tensor_value_info(name: str, elem_type: int, shape: Sequence[int | str]) -> bytes:
    """ValueInfoProto of a tensor; a str dimension is symbolic (dim_param)."""
    dims = b"".join(_bytes(1, _str(2, d) if isinstance(d, str) else _int(1, d)) for d in shape)
    tensor_type = _int(1, elem_type) + _bytes(2, dims)
    return _str(1, name) + _bytes(2, _bytes(1, tensor_type))


def model(
    nodes: Iterable[bytes],
    name: str,
    inputs: Iterable[bytes],
    outputs: Iterable[bytes],
    initializers: Iterable[bytes],
    opset: int,
    ir_version: int,
) -> bytes:
    """A serialized ModelProto around one graph, default domain at `opset`."""
    graph = b"".join(_bytes(1, n) for n in nodes) + _str(2, name)
    graph += b"".join(_bytes(5, t) for t in initializers)
    graph += b"".join(_bytes(11, i) for i in inputs) + b"".join(_bytes(12, o) for o in outputs)
    opset_id = _str(1, "") + _int(2, opset)
    return _int(1, ir_version) + _bytes(7, graph) + _bytes(8, opset_id)
