/** Graph → ONNX ModelProto bytes, through the schema generated from onnx.proto (@bufbuild/protobuf). */
import { create, type MessageInitShape, toBinary } from '@bufbuild/protobuf';
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import {
  type AttributeProtoSchema,
  AttributeProto_AttributeType as AttributeType,
  GraphProtoSchema,
  type ModelProto,
  ModelProtoSchema,
  type NodeProtoSchema,
  TensorProtoSchema,
  type ValueInfoProtoSchema,
} from '../onnx/index.js';
import type { HostTensor } from '../runtime.js';
import { type Attr, type Graph, type Node, onnxTypeCode, type Value } from './graph.js';

/** Opset 17: the first with LayerNormalization; ORT 1.30 runs it in node and web alike. */
export const opsetVersion = 17;
const irVersion = 8n;

/** Options of `toModelProto`. */
export interface SerializeOptions {
  producer?: string;
  /** Free-form key/value pairs stored in the model (e.g. lat's config). */
  metadata?: Record<string, string>;
}

function valueInfo(v: Value): MessageInitShape<typeof ValueInfoProtoSchema> {
  return {
    name: v.name,
    type: {
      value: {
        case: 'tensorType',
        value: {
          elemType: onnxTypeCode(v.dtype),
          ...(v.shape
            ? {
                shape: {
                  dim: v.shape.map((d) => ({
                    value:
                      typeof d === 'number'
                        ? { case: 'dimValue' as const, value: BigInt(d) }
                        : { case: 'dimParam' as const, value: d },
                  })),
                },
              }
            : {}),
        },
      },
    },
  };
}

/** Tensors go in raw little-endian bytes: repeated fields would be far larger and slower for 110M floats. */
export function tensorProto(name: string, t: HostTensor): MessageInitShape<typeof TensorProtoSchema> {
  const data = t.data as ArrayBufferView;
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return { name, dims: t.dims.map(BigInt), dataType: onnxTypeCode(t.type), rawData: bytes };
}

function attribute(
  name: string,
  a: Attr,
  read: ReadonlySet<string>,
): MessageInitShape<typeof AttributeProtoSchema> {
  switch (a.type) {
    case 'int':
      return { name, type: AttributeType.INT, i: BigInt(a.value) };
    case 'float':
      return { name, type: AttributeType.FLOAT, f: a.value };
    case 'ints':
      return { name, type: AttributeType.INTS, ints: a.value.map(BigInt) };
    case 'floats':
      return { name, type: AttributeType.FLOATS, floats: a.value };
    case 'string':
      return { name, type: AttributeType.STRING, s: new TextEncoder().encode(a.value) };
    case 'tensor':
      return { name, type: AttributeType.TENSOR, t: tensorProto('', a.value) };
    case 'graph':
      return {
        name,
        type: AttributeType.GRAPH,
        g: {
          name: a.value.name,
          node: nodesProto(a.value.nodes, read, `${a.value.name}/`),
          output: a.value.outputs.map(valueInfo),
        },
      };
  }
}

/**
 * Outputs an op computes only when asked for, after the ones it always has: LayerNormalization's
 * Mean and InvStdDev are read by its gradient in training graphs; an inference graph that leaves
 * them declared makes onnxruntime allocate and write both on every run.
 */
const optionalOutputsFrom: Readonly<Record<string, number>> = { LayerNormalization: 1 };

/** Every value name some node (in any branch), branch or graph output reads. */
function readNames(graph: Graph): Set<string> {
  const read = new Set(graph.outputs.map((v) => v.name));
  const walk = (nodes: readonly Node[]) => {
    for (const n of nodes) {
      for (const i of n.inputs) read.add(i);
      for (const a of Object.values(n.attrs))
        if (a.type === 'graph') {
          for (const v of a.value.outputs) read.add(v.name);
          walk(a.value.nodes);
        }
    }
  };
  walk(graph.nodes);
  return read;
}

/** A node's outputs without the optional trailing ones nothing reads. */
function outputsProto(n: Node, read: ReadonlySet<string>): string[] {
  const from = optionalOutputsFrom[n.opType];
  let end = n.outputs.length;
  if (from !== undefined) while (end > from && !read.has(n.outputs[end - 1]!)) end--;
  return n.outputs.slice(0, end);
}

/** Node names only label nodes for ORT's messages; a branch's are prefixed with the branch's name. */
function nodesProto(
  nodes: readonly Node[],
  read: ReadonlySet<string>,
  prefix = '',
): MessageInitShape<typeof NodeProtoSchema>[] {
  return nodes.map((n, i) => ({
    name: `${prefix}${n.opType}_${i}`,
    opType: n.opType,
    input: [...n.inputs],
    output: outputsProto(n, read),
    attribute: Object.entries(n.attrs).map(([k, a]) => attribute(k, a, read)),
  }));
}

/**
 * Serialises a graph as ONNX `ModelProto` bytes (IR 8, opset 17) that onnxruntime and onnx.checker accept.
 * The small parts go through the generated schema; the weights are framed by hand (fields may come
 * in any order in protobuf) so their bytes are copied once, into the result, and not once per
 * message level they are nested in — bert-base has 440 MB of them.
 */
export function toModelProto(graph: Graph, options: SerializeOptions = {}): Uint8Array {
  const head = toBinary(
    ModelProtoSchema,
    create(ModelProtoSchema, {
      irVersion,
      opsetImport: [{ domain: '', version: BigInt(opsetVersion) }],
      producerName: options.producer ?? 'lat',
      metadataProps: Object.entries(options.metadata ?? {}).map(([key, value]) => ({ key, value })),
    }),
  );
  const graphHead = toBinary(
    GraphProtoSchema,
    create(GraphProtoSchema, {
      name: graph.name,
      node: nodesProto(graph.nodes, readNames(graph)),
      input: graph.inputs.map(valueInfo),
      output: graph.outputs.map(valueInfo),
    }),
  );
  const initializers = [...graph.initializers].map(([name, t]) => {
    const data = t.data as ArrayBufferView;
    const tensorHead = toBinary(
      TensorProtoSchema,
      create(TensorProtoSchema, { name, dims: t.dims.map(BigInt), dataType: onnxTypeCode(t.type) }),
    );
    return { head: tensorHead, raw: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
  });
  return frameModel(head, graphHead, initializers);
}

/**
 * A decoded `ModelProto` back to bytes, its initializers' raw data framed by hand as in
 * {@link toModelProto} (copied once; the schema's `toBinary` copies it per nesting level).
 */
export function encodeModelProto(model: ModelProto): Uint8Array {
  const graph = model.graph;
  if (!graph) return toBinary(ModelProtoSchema, model);
  const initializers = graph.initializer.map((t) =>
    t.rawData.byteLength
      ? { head: toBinary(TensorProtoSchema, { ...t, rawData: new Uint8Array(0) }), raw: t.rawData }
      : { head: toBinary(TensorProtoSchema, t) },
  );
  const head = toBinary(ModelProtoSchema, { ...model, graph: undefined });
  const graphHead = toBinary(GraphProtoSchema, { ...graph, initializer: [] });
  return frameModel(head, graphHead, initializers);
}

/** Model fields, then the graph field: its own fields and each initializer (head, then raw data). */
function frameModel(
  head: Uint8Array,
  graphHead: Uint8Array,
  initializers: { head: Uint8Array; raw?: Uint8Array }[],
): Uint8Array {
  const tensors = initializers.flatMap((t) =>
    field(graphInitializer, [t.head, ...(t.raw ? field(tensorRawData, [t.raw]) : [])]),
  );
  const parts = [head, ...field(modelGraph, [graphHead, ...tensors])];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/** onnx.proto field numbers of the parts framed by hand. */
const modelGraph = 7;
const graphInitializer = 5;
const tensorRawData = 9;

/** A length-delimited field holding `parts` back to back: its tag and length, then the parts. */
function field(fieldNo: number, parts: Uint8Array[]): Uint8Array[] {
  const length = parts.reduce((n, p) => n + p.byteLength, 0);
  return [new BinaryWriter().tag(fieldNo, WireType.LengthDelimited).uint32(length).finish(), ...parts];
}
