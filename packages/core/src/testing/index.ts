// Small helpers for tests across the workspace. Not part of the stable API.
import { create, toBinary } from '@bufbuild/protobuf';
import { ModelProtoSchema, TensorProto_DataType } from '../onnx/index.js';
import { hostTensor, type Runtime } from '../runtime.js';

/** An ONNX ValueInfoProto (init shape) for a tensor of `elemType` (a TensorProto_DataType) and `dims`. */
export function onnxValueInfo(name: string, elemType: number, dims: (number | string)[]) {
  return {
    name,
    type: {
      value: {
        case: 'tensorType' as const,
        value: {
          elemType,
          shape: {
            dim: dims.map((d) => ({
              value:
                typeof d === 'number'
                  ? { case: 'dimValue' as const, value: BigInt(d) }
                  : { case: 'dimParam' as const, value: d },
            })),
          },
        },
      },
    },
  };
}

/** y = MatMul(x, W) + b with W and b as initializers; x has a symbolic batch dim. */
export function linearModel(w: number[][], b: number[]): Uint8Array {
  const k = w.length;
  const n = b.length;
  const f = TensorProto_DataType.FLOAT;
  const model = create(ModelProtoSchema, {
    irVersion: 8n,
    opsetImport: [{ domain: '', version: 17n }],
    producerName: 'lat-test',
    graph: {
      name: 'linear',
      node: [
        { opType: 'MatMul', input: ['x', 'W'], output: ['xw'] },
        { opType: 'Add', input: ['xw', 'b'], output: ['y'] },
      ],
      initializer: [
        { name: 'W', dims: [BigInt(k), BigInt(n)], dataType: f, floatData: w.flat() },
        { name: 'b', dims: [BigInt(n)], dataType: f, floatData: b },
      ],
      input: [onnxValueInfo('x', f, ['batch', k])],
      output: [onnxValueInfo('y', f, ['batch', n])],
    },
  });
  return toBinary(ModelProtoSchema, model);
}

/** Plain float64 reference of linearModel, for checking what a runtime returns. */
export function linearReference(x: number[][], w: number[][], b: number[]): number[] {
  return x.flatMap((row) => b.map((bj, j) => row.reduce((s, xi, i) => s + xi * w[i]![j]!, bj)));
}

/** Runs linearModel on `runtime` for a fixed input; returns what it computed and the float64 answer. */
export async function runLinearModel(
  runtime: Runtime,
): Promise<{ inputNames: readonly string[]; dims: readonly number[]; got: number[]; want: number[] }> {
  const w = [
    [1, 2, 3],
    [4, 5, 6],
  ];
  const b = [0.5, -1, 2];
  const x = [
    [1, 1],
    [2, -1],
    [0, 3],
  ];
  const session = await runtime.createSession(linearModel(w, b), { threads: 1 });
  const out = await session.run({ x: hostTensor('float32', [3, 2], Float32Array.from(x.flat())) });
  await session.release();
  return {
    inputNames: session.inputNames,
    dims: out['y']!.dims,
    got: Array.from(out['y']!.data as Float32Array),
    want: linearReference(x, w, b),
  };
}
export * from './bpe.js';
export * from './fuzz.js';
export * from './torch-save.js';
