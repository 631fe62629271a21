/** Graph → ONNX ModelProto bytes, through the generated protobuf schema of onnx-proto. */
import { type OnnxTypes, onnx } from '../onnx-proto.js';
import type { HostTensor } from '../runtime.js';
import { type Attr, type Graph, type Node, onnxTypeCode, type Value } from './graph.js';

/** Opset 17: the first with LayerNormalization; ORT 1.30 runs it in node and web alike. */
export const opsetVersion = 17;
const irVersion = 8;

export interface SerializeOptions {
  producer?: string;
  /** Free-form key/value pairs stored in the model (e.g. lat's config). */
  metadata?: Record<string, string>;
}

function valueInfo(v: Value) {
  return {
    name: v.name,
    type: {
      tensorType: {
        elemType: onnxTypeCode(v.dtype),
        ...(v.shape
          ? {
              shape: { dim: v.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
            }
          : {}),
      },
    },
  };
}

/** Tensors go in raw little-endian bytes: repeated fields would be far larger and slower for 110M floats. */
export function tensorProto(name: string, t: HostTensor) {
  const data = t.data as ArrayBufferView;
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return { name, dims: [...t.dims], dataType: onnxTypeCode(t.type), rawData: bytes };
}

function attribute(name: string, a: Attr): OnnxTypes.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  switch (a.type) {
    case 'int':
      return { name, type: T.INT, i: a.value };
    case 'float':
      return { name, type: T.FLOAT, f: a.value };
    case 'ints':
      return { name, type: T.INTS, ints: a.value };
    case 'floats':
      return { name, type: T.FLOATS, floats: a.value };
    case 'string':
      return { name, type: T.STRING, s: new TextEncoder().encode(a.value) };
    case 'tensor':
      return { name, type: T.TENSOR, t: tensorProto('', a.value) };
    case 'graph':
      return {
        name,
        type: T.GRAPH,
        g: {
          name: a.value.name,
          ...nodesProto(a.value.nodes, `${a.value.name}/`),
          output: a.value.outputs.map(valueInfo),
        },
      };
  }
}

/** Node names only label nodes for ORT's messages; a branch's are prefixed with the branch's name. */
function nodesProto(nodes: readonly Node[], prefix = ''): { node: OnnxTypes.INodeProto[] } {
  return {
    node: nodes.map((n, i) => ({
      name: `${prefix}${n.opType}_${i}`,
      opType: n.opType,
      input: [...n.inputs],
      output: [...n.outputs],
      attribute: Object.entries(n.attrs).map(([k, a]) => attribute(k, a)),
    })),
  };
}

export function toModelProto(graph: Graph, options: SerializeOptions = {}): Uint8Array {
  const model = onnx.ModelProto.create({
    irVersion,
    opsetImport: [{ domain: '', version: opsetVersion }],
    producerName: options.producer ?? 'lat',
    metadataProps: Object.entries(options.metadata ?? {}).map(([key, value]) => ({ key, value })),
    graph: {
      name: graph.name,
      ...nodesProto(graph.nodes),
      initializer: [...graph.initializers].map(([name, t]) => tensorProto(name, t)),
      input: graph.inputs.map(valueInfo),
      output: graph.outputs.map(valueInfo),
    },
  });
  return onnx.ModelProto.encode(model).finish();
}
