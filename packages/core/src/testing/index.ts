// Small helpers for tests across the workspace. Not part of the stable API.
import { onnx } from '../onnx-proto.js';

/** y = MatMul(x, W) + b with W and b as initializers; x has a symbolic batch dim. */
export function linearModel(w: number[][], b: number[]): Uint8Array {
  const k = w.length;
  const n = b.length;
  const f = onnx.TensorProto.DataType.FLOAT;
  const vi = (name: string, dims: (number | string)[]) => ({
    name,
    type: {
      tensorType: {
        elemType: f,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    producerName: 'lat-test',
    graph: {
      name: 'linear',
      node: [
        { opType: 'MatMul', input: ['x', 'W'], output: ['xw'] },
        { opType: 'Add', input: ['xw', 'b'], output: ['y'] },
      ],
      initializer: [
        { name: 'W', dims: [k, n], dataType: f, floatData: w.flat() },
        { name: 'b', dims: [n], dataType: f, floatData: b },
      ],
      input: [vi('x', ['batch', k])],
      output: [vi('y', ['batch', n])],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

/** Plain float64 reference of linearModel, for checking what a runtime returns. */
export function linearReference(x: number[][], w: number[][], b: number[]): number[] {
  return x.flatMap((row) => b.map((bj, j) => row.reduce((s, xi, i) => s + xi * w[i]![j]!, bj)));
}
