/**
 * Dead-node elimination, shared by lat's graph IR (autodiff leaves gradients of constants) and
 * serialised ONNX (a branch inlined leaves the other branch's inputs): nodes in topological order
 * are walked backwards, and a node is dead when no root and no live node reads any of its outputs.
 * Returns which nodes stay, and whether a name is still read (for inputs and initializers).
 */
export function liveNodes<N>(
  nodes: readonly N[],
  reads: (n: N) => readonly string[],
  outputs: (n: N) => readonly string[],
  roots: readonly string[],
): { alive: boolean[]; read: (name: string) => boolean } {
  const uses = new Map<string, number>();
  const use = (name: string, by: number) => uses.set(name, (uses.get(name) ?? 0) + by);
  for (const n of nodes) for (const i of reads(n)) use(i, 1);
  for (const o of roots) use(o, 1);
  const alive = nodes.map(() => true);
  for (let k = nodes.length - 1; k >= 0; k--) {
    const n = nodes[k]!;
    if (outputs(n).some((o) => o && (uses.get(o) ?? 0) > 0)) continue;
    alive[k] = false;
    for (const i of reads(n)) use(i, -1);
  }
  return { alive, read: (name) => (uses.get(name) ?? 0) > 0 };
}
