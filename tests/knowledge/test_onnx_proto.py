"""The hand-written ONNX encoder: same bytes as onnx.helper, and ONNX Runtime runs what it writes."""

from __future__ import annotations

import numpy as np
import pytest

from knowledge import onnx_proto


def _small_model() -> bytes:
    """Every feature the MiniLM graph uses: int, negative int, float and ints attributes,
    int64 and float32 initializers, symbolic and fixed dimensions."""
    gamma = np.array([1.0, 2.0, 0.5], dtype=np.float32)
    beta = np.array([0.0, -1.0, 3.0], dtype=np.float32)
    axes = np.array([1], dtype=np.int64)
    nodes = [
        onnx_proto.node("Cast", ["x"], ["xf"], to=onnx_proto.FLOAT),
        onnx_proto.node("LayerNormalization", ["xf", "g", "b"], ["ln"], axis=-1, epsilon=1e-12),
        onnx_proto.node("Transpose", ["ln"], ["t"], perm=[1, 0]),
        onnx_proto.node("Transpose", ["t"], ["tt"], perm=[1, 0]),
        onnx_proto.node("ReduceSum", ["tt", "axes"], ["y"], keepdims=0),
    ]
    return onnx_proto.model(
        nodes,
        "small",
        [onnx_proto.tensor_value_info("x", onnx_proto.INT64, ["batch", 3])],
        [onnx_proto.tensor_value_info("y", onnx_proto.FLOAT, ["batch"])],
        [
            onnx_proto.tensor("g", gamma),
            onnx_proto.tensor("b", beta),
            onnx_proto.tensor("axes", axes),
        ],
        opset=17,
        ir_version=8,
    )


def test_onnx_runtime_runs_a_hand_encoded_graph() -> None:
    import onnxruntime as ort

    session = ort.InferenceSession(_small_model(), providers=["CPUExecutionProvider"])
    x = np.array([[1, 2, 3], [10, 10, 40]], dtype=np.int64)
    (y,) = session.run(None, {"x": x})
    xf = x.astype(np.float32)
    normed = (xf - xf.mean(1, keepdims=True)) / np.sqrt(xf.var(1, keepdims=True) + 1e-12)
    expected = (normed * [1.0, 2.0, 0.5] + [0.0, -1.0, 3.0]).sum(1)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)


def test_encoding_equals_onnx_helper_byte_for_byte() -> None:
    onnx = pytest.importorskip("onnx")  # dev extras: the reference encoder
    from onnx import TensorProto, helper, numpy_helper

    gamma = np.array([1.0, 2.0, 0.5], dtype=np.float32)
    beta = np.array([0.0, -1.0, 3.0], dtype=np.float32)
    nodes = [
        helper.make_node("Cast", ["x"], ["xf"], to=TensorProto.FLOAT),
        helper.make_node("LayerNormalization", ["xf", "g", "b"], ["ln"], axis=-1, epsilon=1e-12),
        helper.make_node("Transpose", ["ln"], ["t"], perm=[1, 0]),
        helper.make_node("Transpose", ["t"], ["tt"], perm=[1, 0]),
        helper.make_node("ReduceSum", ["tt", "axes"], ["y"], keepdims=0),
    ]
    graph = helper.make_graph(
        nodes,
        "small",
        [helper.make_tensor_value_info("x", TensorProto.INT64, ["batch", 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch"])],
        initializer=[
            numpy_helper.from_array(gamma, "g"),
            numpy_helper.from_array(beta, "b"),
            numpy_helper.from_array(np.array([1], dtype=np.int64), "axes"),
        ],
    )
    reference = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    reference.ir_version = 8
    ours = _small_model()
    onnx.checker.check_model(onnx.load_from_string(ours))
    assert ours == reference.SerializeToString()


def test_negative_ints_take_ten_bytes_like_protobuf() -> None:
    assert onnx_proto._varint(-1) == b"\xff" * 9 + b"\x01"
    assert onnx_proto._varint(300) == b"\xac\x02"
