"""One linear layer per graph, in each op form a q8 graph can take, for the `q8ops` bench section.

Input (argv[1], JSON): {"out": dir, "m": rows, "shapes": [[K, N], ...]}. For each K × N writes, with
X [1, m, K] float32 in and Y out, random weights W [K, N] (seeded):
  fp32_KxN.onnx    MatMul(X, W)
  s8_KxN.onnx      DynamicQuantizeLinear(X) → MatMulInteger(uint8 X, int8 W) → Cast → Mul by the scales
                   (what lat's and transformers.js's q8 graphs hold; ORT fuses it to DynamicQuantizeMatMul)
  u8_KxN.onnx      the same with W as uint8 (+128, zero point 128): MLAS's u8u8 path
  nbits0/4_KxN     com.microsoft MatMulNBits, bits 8, block 32, accuracy_level 0 (fp32 compute) / 4 (int8)
Per-tensor symmetric weights (scale max|w| / 127). Prints the files written as JSON.
"""
import json
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper
from onnx import numpy_helper as nh

args = json.loads(sys.argv[1])
m, out = args["m"], args["out"]
rng = np.random.default_rng(0)
written = []


def save(name, nodes, inits, k, microsoft=False):
    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, m, k])
    y = helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)
    opsets = [helper.make_opsetid("", 17)] + ([helper.make_opsetid("com.microsoft", 1)] if microsoft else [])
    model = helper.make_model(helper.make_graph(nodes, name, [x], [y], inits), opset_imports=opsets)
    model.ir_version = 8
    path = f"{out}/{name}.onnx"
    onnx.save(model, path)
    written.append(path)


for k, n in args["shapes"]:
    w = (rng.standard_normal((k, n)) * 0.05).astype(np.float32)
    tag = f"{k}x{n}"
    save(f"fp32_{tag}", [helper.make_node("MatMul", ["X", "W"], ["Y"])], [nh.from_array(w, "W")], k)
    scale = np.float32(np.abs(w).max() / 127)
    q = np.clip(np.rint(w / scale), -127, 127)
    for form, values, zero in [("s8", q.astype(np.int8), np.array(0, np.int8)), ("u8", (q + 128).astype(np.uint8), np.array(128, np.uint8))]:
        nodes = [
            helper.make_node("DynamicQuantizeLinear", ["X"], ["xq", "xs", "xz"]),
            helper.make_node("MatMulInteger", ["xq", "Wq", "xz", "Wz"], ["yi"]),
            helper.make_node("Cast", ["yi"], ["yf"], to=TensorProto.FLOAT),
            helper.make_node("Mul", ["xs", "Ws"], ["s"]),
            helper.make_node("Mul", ["yf", "s"], ["Y"]),
        ]
        inits = [nh.from_array(values, "Wq"), nh.from_array(zero, "Wz"), nh.from_array(np.array(scale), "Ws")]
        save(f"{form}_{tag}", nodes, inits, k)
    # MatMulNBits: B [N, K / 32, 32] uint8 (zero point 128 by default), one scale per block.
    blocks = w.T.reshape(n, k // 32, 32)
    scales = (np.abs(blocks).max(axis=2) / 127).astype(np.float32)
    packed = (np.clip(np.rint(blocks / scales[..., None]), -127, 127) + 128).astype(np.uint8)
    for level in (0, 4):
        node = helper.make_node("MatMulNBits", ["X", "B", "S"], ["Y"], domain="com.microsoft", K=k, N=n, bits=8, block_size=32, accuracy_level=level)
        save(f"nbits{level}_{tag}", [node], [nh.from_array(packed, "B"), nh.from_array(scales.reshape(-1), "S")], k, True)
print(json.dumps(written))
