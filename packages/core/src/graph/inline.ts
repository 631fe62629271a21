/**
 * Specialising a serialised model at one outcome of an If: the branch's nodes take the If's place
 * and whatever only the other branch or the condition needed is dropped. A runtime can then keep
 * one session per outcome and pick it on the host, instead of paying the If's own cost (its
 * subgraph runs in a frame of its own, with its own allocations) on every run.
 */
import { fromBinary } from '@bufbuild/protobuf';
import { type GraphProto, ModelProtoSchema, type NodeProto } from '../onnx/index.js';
import { liveNodes } from './live.js';
import { encodeModelProto } from './serialize.js';

/** Every name a node reads, the nodes of its branches included (outer-scope values). */
function reads(n: NodeProto): string[] {
  return n.input.concat(
    n.attribute.flatMap((a) => (a.g ? [...a.g.node.flatMap(reads), ...a.g.output.map((o) => o.name)] : [])),
  );
}

/** Drops nodes none of whose outputs is read, then the inputs and initializers nothing reads. */
function prune(g: GraphProto): void {
  const { alive, read } = liveNodes(
    g.node,
    reads,
    (n) => n.output,
    g.output.map((o) => o.name),
  );
  g.node = g.node.filter((_, k) => alive[k]);
  g.input = g.input.filter((v) => read(v.name));
  g.initializer = g.initializer.filter((t) => read(t.name));
}

/**
 * `model` (serialised from a {@link Graph}) with each top-level If that has a branch named in
 * `branches` (`Graph.ifElse`'s `name`) replaced by that branch's nodes, its yielded values renamed
 * to the If's outputs — Ifs inside an inlined branch are then top-level too — without the graph
 * outputs `dropOutputs`, and every node, input and initializer only the rest of those Ifs (or the
 * dropped outputs) needed removed; undefined when the model has no If of the first name.
 */
export function inlineIfBranches(
  model: Uint8Array,
  branches: readonly string[],
  dropOutputs: readonly string[] = [],
): Uint8Array | undefined {
  const m = fromBinary(ModelProtoSchema, model);
  const g = m.graph;
  const named = new Set(branches);
  const branchOf = (n: NodeProto) =>
    n.opType === 'If' ? n.attribute.find((a) => named.has(a.g?.name ?? '')) : undefined;
  if (!g?.node.some((n) => branchOf(n)?.g?.name === branches[0])) return undefined;
  for (let at = g.node.findIndex(branchOf); at >= 0; at = g.node.findIndex(branchOf)) {
    const node = g.node[at]!;
    const body = branchOf(node)!.g!;
    // Graph.ifElse makes every yielded value in its branch (an Identity), so renaming it is enough.
    const renamed = new Map(body.output.map((o, i) => [o.name, node.output[i]!]));
    for (const n of body.node) n.output = n.output.map((o) => renamed.get(o) ?? o);
    g.node.splice(at, 1, ...body.node);
  }
  g.output = g.output.filter((o) => !dropOutputs.includes(o.name));
  prune(g);
  return encodeModelProto(m);
}
