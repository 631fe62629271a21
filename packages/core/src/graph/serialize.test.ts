import { fromBinary } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { AttributeProto_AttributeType, ModelProtoSchema, TensorProto_DataType } from '../onnx/index.js';
import { Graph } from './graph.js';
import { encodeModelProto, toModelProto } from './serialize.js';

describe('toModelProto', () => {
  it('round-trips through the generated onnx.proto schema: opset, I/O shapes, raw tensors, attributes, If branches', () => {
    const g = new Graph('roundtrip', 'float32');
    const x = g.input('x', 'float32', ['batch', 3]);
    const w = g.initializer('w', { type: 'float32', dims: [3, 2], data: Float32Array.of(1, 2, 3, 4, 5, 6) });
    const y = g.matmul(x, w);
    const [z] = g.ifElse(
      g.input('c', 'bool', []),
      () => [g.softmax(y, -1)],
      () => [g.neg(y)],
    );
    g.output(z!, 'z');
    const model = fromBinary(ModelProtoSchema, toModelProto(g, { metadata: { 'lat.name': 'rt' } }));

    expect(model.irVersion).toBe(8n);
    expect(model.opsetImport.map((o) => [o.domain, o.version])).toEqual([['', 17n]]);
    expect(model.metadataProps).toMatchObject([{ key: 'lat.name', value: 'rt' }]);
    const graph = model.graph!;
    const dims = (v: (typeof graph.input)[number]) =>
      v.type?.value.case === 'tensorType'
        ? v.type.value.value.shape?.dim.map((d) => d.value.value)
        : undefined;
    expect(dims(graph.input[0]!)).toEqual(['batch', 3n]);
    const init = graph.initializer[0]!;
    expect([init.name, init.dims, init.dataType]).toEqual(['w', [3n, 2n], TensorProto_DataType.FLOAT]);
    expect(Array.from(new Float32Array(init.rawData.slice().buffer))).toEqual([1, 2, 3, 4, 5, 6]);
    const ifNode = graph.node.find((n) => n.opType === 'If')!;
    const branches = ifNode.attribute.map((a) => [a.name, a.type, a.g?.node.map((n) => n.opType)]);
    expect(branches).toEqual([
      ['then_branch', AttributeProto_AttributeType.GRAPH, ['Softmax', 'Identity']],
      ['else_branch', AttributeProto_AttributeType.GRAPH, ['Neg', 'Identity']],
    ]);
    const softmax = ifNode.attribute[0]!.g!.node[0]!.attribute[0]!;
    expect([softmax.name, softmax.type, softmax.i]).toEqual(['axis', AttributeProto_AttributeType.INT, -1n]);
    // Every graph and branch output carries its type and shape (tools like onnx.checker need them).
    expect(dims(graph.output[0]!)).toEqual(['batch', 2n]);
    for (const a of ifNode.attribute) expect(dims(a.g!.output[0]!)).toEqual(['batch', 2n]);
  });

  it("declares LayerNormalization's Mean and InvStdDev only where a node or output reads them", () => {
    const layerNormOutputs = (read: 'none' | 'mean' | 'invStd') => {
      const g = new Graph('ln', 'float32');
      const x = g.input('x', 'float32', ['n', 4]);
      const y = g.layerNorm(x, g.floats([4], [1, 1, 1, 1]), g.floats([4], [0, 0, 0, 0]), 1e-5);
      const node = g.nodes.at(-1)!;
      g.output(y, 'y');
      if (read === 'mean') g.output(g.value(node.outputs[1]!), 'mean');
      if (read === 'invStd') g.output(g.neg(g.value(node.outputs[2]!)), 'minusInvStd');
      const model = fromBinary(ModelProtoSchema, toModelProto(g));
      return model.graph!.node.find((n) => n.opType === 'LayerNormalization')!.output.length;
    };
    expect(layerNormOutputs('none')).toBe(1); // inference: onnxruntime computes neither
    expect(layerNormOutputs('mean')).toBe(2);
    expect(layerNormOutputs('invStd')).toBe(3); // only trailing outputs can be left out
  });

  it('encodes a decoded model back to the same model (encodeModelProto: raw data framed by hand)', () => {
    const g = new Graph('re', 'float32');
    const x = g.input('x', 'float32', ['n', 3]);
    const w = g.initializer('w', { type: 'float32', dims: [3, 2], data: Float32Array.of(1, 2, 3, 4, 5, 6) });
    g.output(g.add(g.matmul(x, w), g.scalar(0.5)), 'y');
    const decoded = fromBinary(ModelProtoSchema, toModelProto(g, { metadata: { k: 'v' } }));
    const again = fromBinary(ModelProtoSchema, encodeModelProto(decoded));
    expect(again.metadataProps).toMatchObject([{ key: 'k', value: 'v' }]);
    expect(again.graph!.node.map((n) => [n.opType, n.input, n.output])).toEqual(
      decoded.graph!.node.map((n) => [n.opType, n.input, n.output]),
    );
    expect(again.graph!.initializer.map((t) => [t.name, t.dims, t.dataType, Array.from(t.rawData)])).toEqual(
      decoded.graph!.initializer.map((t) => [t.name, t.dims, t.dataType, Array.from(t.rawData)]),
    );
  });
});
