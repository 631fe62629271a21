"""The standard-exporter baseline for lat's benchmarks.

Loads lat's BERT weights (a safetensors file with Hugging Face's BERT names, without the `bert.`
prefix) into a PyTorch BERT written the way Hugging Face's `modeling_bert` computes it (eager
attention, erf GELU, post-LN, pooler + classifier) and exports it with `torch.onnx.export`:
inputs `input_ids`, `attention_mask`, `token_type_ids` (batch and sequence dynamic) and output
`logits`, the I/O transformers.js expects of `onnx/model.onnx`.

With `q8` it also writes the same graph quantised the way transformers.js's `scripts/quantize.py`
makes its `model_quantized.onnx` (mode q8): onnxruntime's dynamic quantiser in IntegerOps mode with
MatMulConstBOnly, weights QInt8 per tensor (per_channel and reduce_range off, symmetric int8 as
onnxruntime quantises signed weights), activations QUInt8 at run time. Python onnxruntime is not
installed here, so `quantize_like_transformers_js` writes the nodes that quantiser writes:
  - each MatMul with a constant 2-D B: DynamicQuantizeLinear on A (shared by MatMuls that read
    the same A), MatMulInteger(A_q, B_q, A_zp, B_zp), Cast to float, Mul(A_scale, B_scale), Mul;
  - each Gather of a constant table (the embeddings): the table as uint8 with an asymmetric
    per-tensor scale and zero point (the activation type), and DequantizeLinear after the Gather.
Gemm (the pooler and classifier on [batch, hidden]) is not among the quantiser's integer ops and
stays fp32. `q8` is that file's path, or a list of {"out", "weights", "embeddings"}: `weights`
"per-tensor-8bit" (the above) or "per-channel-7bit" (lat's default layout: one scale per output
column, max|w| / 63 in float64, round half up, ±63 — ORT's quantiser with per_channel and
reduce_range, at lat's range), and `embeddings` false keeps the tables fp32, so the graph's only
int8 weights are its MatMuls' — the same bytes lat's q8 graph of that layout holds. Prints one
JSON object: the files written. Used only by `pnpm bench`.
"""
import json
import math
import struct
import sys

import numpy as np
import torch
from torch import nn

args = json.loads(sys.argv[1])
torch.set_num_threads(args.get("threads", 2))


def read_safetensors(path):
    with open(path, "rb") as f:
        size = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(size))
        data = f.read()
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        if t["dtype"] != "F32":
            raise ValueError(f"{path}: tensor {name} is {t['dtype']}, expected F32")
        start, end = t["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(data[start:end], dtype=np.float32).reshape(t["shape"]).copy())
    return out


class Embeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.word_embeddings = nn.Embedding(c["vocab"], c["hidden"])
        self.position_embeddings = nn.Embedding(c["positions"], c["hidden"])
        self.token_type_embeddings = nn.Embedding(c["types"], c["hidden"])
        self.LayerNorm = nn.LayerNorm(c["hidden"], eps=c["eps"])
        self.register_buffer("position_ids", torch.arange(c["positions"]).expand((1, -1)), persistent=False)

    def forward(self, input_ids, token_type_ids):
        n = input_ids.size(1)
        x = self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids)
        x = x + self.position_embeddings(self.position_ids[:, :n])
        return self.LayerNorm(x)


class SelfAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.heads, self.head_size = c["heads"], c["hidden"] // c["heads"]
        self.query = nn.Linear(c["hidden"], c["hidden"])
        self.key = nn.Linear(c["hidden"], c["hidden"])
        self.value = nn.Linear(c["hidden"], c["hidden"])

    def split(self, x):
        return x.view(x.size()[:-1] + (self.heads, self.head_size)).permute(0, 2, 1, 3)

    def forward(self, h, mask):
        q, k, v = self.split(self.query(h)), self.split(self.key(h)), self.split(self.value(h))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_size) + mask
        ctx = torch.matmul(nn.functional.softmax(scores, dim=-1), v).permute(0, 2, 1, 3).contiguous()
        return ctx.view(ctx.size()[:-2] + (self.heads * self.head_size,))


class Output(nn.Module):
    """dense → residual → LayerNorm (BertSelfOutput and BertOutput)."""

    def __init__(self, inp, c):
        super().__init__()
        self.dense = nn.Linear(inp, c["hidden"])
        self.LayerNorm = nn.LayerNorm(c["hidden"], eps=c["eps"])

    def forward(self, x, residual):
        return self.LayerNorm(self.dense(x) + residual)


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.self = SelfAttention(c)
        self.output = Output(c["hidden"], c)

    def forward(self, h, mask):
        return self.output(self.self(h, mask), h)


class Intermediate(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c["hidden"], c["ffn"])

    def forward(self, h):
        return nn.functional.gelu(self.dense(h))


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.attention = Attention(c)
        self.intermediate = Intermediate(c)
        self.output = Output(c["ffn"], c)

    def forward(self, h, mask):
        a = self.attention(h, mask)
        return self.output(self.intermediate(a), a)


class Encoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layer = nn.ModuleList([Layer(c) for _ in range(c["layers"])])


class Pooler(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c["hidden"], c["hidden"])


class Bert(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embeddings = Embeddings(c)
        self.encoder = Encoder(c)
        self.pooler = Pooler(c)
        self.classifier = nn.Linear(c["hidden"], c["labels"])

    def forward(self, input_ids, attention_mask, token_type_ids):
        # The classic extended mask: 0 where attended, -10000 on padding.
        mask = (1.0 - attention_mask[:, None, None, :].to(torch.float32)) * -10000.0
        h = self.embeddings(input_ids, token_type_ids)
        for layer in self.encoder.layer:
            h = layer(h, mask)
        return self.classifier(torch.tanh(self.pooler.dense(h[:, 0])))


def export(c, weights_path, out):
    model = Bert(c)
    missing, unexpected = model.load_state_dict(read_safetensors(weights_path), strict=False)
    if missing or unexpected:
        raise ValueError(f"weights do not match: missing {missing}, unexpected {unexpected}")
    model.eval()
    ids = torch.randint(5, c["vocab"], (2, 16))
    names = ["input_ids", "attention_mask", "token_type_ids"]
    axes = {n: {0: "batch_size", 1: "sequence_length"} for n in names}
    axes["logits"] = {0: "batch_size"}
    with torch.no_grad():
        torch.onnx.export(
            model,
            (ids, torch.ones_like(ids), torch.zeros_like(ids)),
            out,
            input_names=names,
            output_names=["logits"],
            dynamic_axes=axes,
            opset_version=args.get("opset", 14),
            do_constant_folding=True,
        )


def quantize_weight(w, layout):
    """int8 values and scale(s) of a MatMul's constant B [in, out], as lat's `quantizeWeight` does."""
    if layout == "per-channel-7bit":
        colmax = np.abs(w).max(axis=0).astype(np.float64)
        scale = np.where(colmax > 0, colmax / 63, 1.0)
        return np.floor(w.astype(np.float64) / scale + 0.5).astype(np.int8), scale.astype(np.float32)
    # Symmetric signed int8, per tensor, full range: [-127, 127], zero point 0.
    absmax = max(abs(float(w.min())), abs(float(w.max())), 0.0)
    scale = np.float32(absmax * 2 / 254 if absmax > 0 else 1.0)
    return np.clip(np.rint(w / scale), -127, 127).astype(np.int8), np.array(scale, np.float32)


def quantize_like_transformers_js(path, out, weights="per-tensor-8bit", embeddings=True):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(path)
    g = model.graph
    consts = {t.name: t for t in g.initializer}
    new_inits, nodes, dynamic = [], [], {}

    def add(name, array):
        new_inits.append(numpy_helper.from_array(array, name))
        return name

    for node in g.node:
        b = node.input[1] if len(node.input) > 1 else None
        if node.op_type == "MatMul" and b in consts and len(consts[b].dims) == 2:
            w = numpy_helper.to_array(consts[b]).astype(np.float32)
            values, scale = quantize_weight(w, weights)
            wq = add(f"{b}_quantized", values)
            ws, wz = add(f"{b}_scale", scale), add(f"{b}_zero_point", np.zeros(scale.shape, np.int8))
            a = node.input[0]
            if a not in dynamic:
                dynamic[a] = (f"{a}_quantized", f"{a}_scale", f"{a}_zero_point")
                nodes.append(helper.make_node("DynamicQuantizeLinear", [a], list(dynamic[a]), f"{a}_QuantizeLinear"))
            aq, as_, az = dynamic[a]
            y = node.output[0]
            nodes.append(helper.make_node("MatMulInteger", [aq, wq, az, wz], [f"{y}_output_quantized"], f"{node.name}_quant"))
            nodes.append(helper.make_node("Cast", [f"{y}_output_quantized"], [f"{y}_output_quantized_cast_output"], f"{node.name}_quant_output_scale_cast", to=TensorProto.FLOAT))
            nodes.append(helper.make_node("Mul", [as_, ws], [f"{y}_quant_scales_mul:0"], f"{node.name}_quant_scales_mul"))
            nodes.append(helper.make_node("Mul", [f"{y}_output_quantized_cast_output", f"{y}_quant_scales_mul:0"], [y], f"{node.name}_quant_output_scale_mul"))
        elif embeddings and node.op_type == "Gather" and node.input[0] in consts:
            t = node.input[0]
            e = numpy_helper.to_array(consts[t]).astype(np.float32)
            # Asymmetric uint8 per tensor (the quantiser's activation type), range widened to hold 0.
            lo, hi = min(float(e.min()), 0.0), max(float(e.max()), 0.0)
            scale = np.float32((hi - lo) / 255 if hi > lo else 1.0)
            zero = np.uint8(np.clip(np.rint(-lo / scale), 0, 255))
            tq = add(f"{t}_quantized", np.clip(np.rint(e / scale) + zero, 0, 255).astype(np.uint8))
            ts, tz = add(f"{t}_scale", np.array(scale, np.float32)), add(f"{t}_zero_point", np.array(zero, np.uint8))
            y = node.output[0]
            nodes.append(helper.make_node("Gather", [tq, node.input[1]], [f"{y}_quantized"], node.name, axis=node.attribute[0].i if node.attribute else 0))
            nodes.append(helper.make_node("DequantizeLinear", [f"{y}_quantized", ts, tz], [y], f"{y}_DequantizeLinear"))
        else:
            nodes.append(node)
    used = {i for n in nodes for i in n.input}
    kept = [t for t in g.initializer if t.name in used]
    del g.node[:]
    g.node.extend(nodes)
    del g.initializer[:]
    g.initializer.extend(kept + new_inits)
    if not any(o.domain in ("", "ai.onnx") and o.version >= 10 for o in model.opset_import):
        raise ValueError("the exported graph's opset is below 10 (MatMulInteger)")
    onnx.checker.check_model(model)
    onnx.save(model, out)


c = args["config"]
export(c, args["weights"], args["out"])
written = {"fp32": args["out"], "torch": torch.__version__}
q8 = args.get("q8")
if q8:
    jobs = [{"out": q8}] if isinstance(q8, str) else q8
    for job in jobs:
        quantize_like_transformers_js(
            args["out"], job["out"], job.get("weights", "per-tensor-8bit"), job.get("embeddings", True)
        )
    written["q8"] = q8
print(json.dumps(written))
