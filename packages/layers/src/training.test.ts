import { type HostTensor, toModelProto } from '@lat/core';
import { createNodeRuntime } from '@lat/runtime-node';
import { describe, expect, it } from 'vitest';
import { createAnytimeModel } from './anytime.js';
import { createRandomWeights, expectedShapes, parseModelConfig, toHfConfig } from './architectures/index.js';
import { withScorers } from './reducers/pooling.js';
import { bertBaseConfig, tinyBertConfig } from './testing/index.js';
import { buildTrainingGraph, largestDropoutTensor, taskLoss } from './training.js';

const runtime = createNodeRuntime({ threads: 1 });
const config = tinyBertConfig;

const ids = [2, 5, 9, 11, 4, 7, 3, 2, 8, 6, 3, 0];
function feeds(w: Map<string, { dims: number[]; data: Float32Array }>, keep: number[], lossWeights = [1, 0]) {
  const f: Record<string, HostTensor> = {
    input_ids: { type: 'int64', dims: [2, 6], data: BigInt64Array.from(ids.map(BigInt)) },
    attention_mask: {
      type: 'int64',
      dims: [2, 6],
      data: BigInt64Array.from([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0].map(BigInt)),
    },
    token_type_ids: { type: 'int64', dims: [2, 6], data: new BigInt64Array(12) },
    keep_counts: { type: 'int64', dims: [2, 2], data: BigInt64Array.from(keep.map(BigInt)) },
    dropout_offsets: {
      type: 'int64',
      dims: [8],
      data: BigInt64Array.from([1, 2, 3, 4, 5, 6, 7, 8].map(BigInt)),
    },
    loss_weights: { type: 'float32', dims: [2], data: Float32Array.from(lossWeights) },
    labels: { type: 'int64', dims: [2], data: BigInt64Array.of(1n, 0n) },
    teacher_probs: { type: 'float32', dims: [2, 2], data: Float32Array.of(0.3, 0.7, 0.6, 0.4) },
  };
  for (const [n, t] of w) f[n] = { type: 'float32', dims: t.dims, data: t.data };
  return f;
}

describe('training graph', () => {
  it('computes the same logits as the inference graph when dropout is off, and gradients for every weight', async () => {
    const c = config(0);
    const w = createRandomWeights(c, 4, {}, 0.3);
    const t = buildTrainingGraph(c, w, { task: 'classification', maxBatch: 2, maxSeq: 6 });
    const s = await runtime.createSession(toModelProto(t.graph));
    const out = await s.run(feeds(w, [5, 3, 4, 3]));
    const inf = await createAnytimeModel(runtime, c, w);
    const x = {
      inputIds: BigInt64Array.from(ids.map(BigInt)),
      attentionMask: feeds(w, [0])['attention_mask']!.data as BigInt64Array,
      batch: 2,
    };
    const ref = await inf.run(x, { form: 'ratio', ratios: [5 / 6, 3 / 6] });
    expect(ref.keepCounts).toEqual([
      [5, 3],
      [5, 3],
    ]);
    const ref2 = await inf.run(x, { form: 'absolute', lengths: [4, 3] });
    const logits = out['logits']!.data as Float32Array;
    Array.from(ref.logits!.slice(0, 2)).forEach((v, i) => expect(logits[i]).toBeCloseTo(v, 5));
    Array.from(ref2.logits!.slice(2, 4)).forEach((v, i) => expect(logits[2 + i]).toBeCloseTo(v, 5));
    const all = t.feeds.grads(out);
    for (const n of t.paramNames) expect(all[n]!.length).toBe(w.get(n)!.data.length);
    // The graph's own feeds builder gives exactly these inputs.
    const built = await s.run({
      ...t.feeds.batch({ ...x, tokenTypeIds: new BigInt64Array(12) }, [1, 0], w),
      ...t.feeds.teacher(x),
      ...t.feeds.pass(x, {
        setting: {
          form: 'counts',
          counts: [
            [5, 3],
            [4, 3],
          ],
        },
        dropoutOffsets: BigInt64Array.from([1, 2, 3, 4, 5, 6, 7, 8].map(BigInt)),
        lossWeights: { [taskLoss]: 1 },
      }),
    });
    expect(t.feeds.loss(built)).toBe(t.feeds.loss(out));
    expect(t.feeds.grads(built)[t.paramNames[0]!]).toEqual(all[t.paramNames[0]!]);
    // Finite-difference check of one weight's gradient through the whole encoder (float32: loose).
    const name = 'encoder.layer.0.attention.self.query.weight';
    const g = (out[`grad.${name}`]!.data as Float32Array)[3]!;
    const bump = (delta: number) => {
      const data = Float32Array.from(w.get(name)!.data);
      data[3]! += delta;
      const w2 = new Map(w);
      w2.set(name, { dims: w.get(name)!.dims, data });
      return s.run(feeds(w2, [5, 3, 4, 3]));
    };
    const lp = Number((await bump(1e-2))['loss']!.data[0]);
    const lm = Number((await bump(-1e-2))['loss']!.data[0]);
    expect(Math.abs((lp - lm) / 2e-2 - g)).toBeLessThan(2e-3 + 0.02 * Math.abs(g));
    await s.release();
    await inf.release();
  });

  it('trains a regression head on MSE to the label plus MSE to the teacher score, with a gradient that matches finite differences', async () => {
    const c = parseModelConfig({ ...toHfConfig(config(0)), num_labels: 1 });
    const w = createRandomWeights(c, 6, {}, 0.3);
    const t = buildTrainingGraph(c, w, { task: 'regression', maxBatch: 2, maxSeq: 6 });
    const s = await runtime.createSession(toModelProto(t.graph));
    const regressionFeeds = (weights: typeof w) => ({
      ...feeds(weights, [6, 4, 5, 4], [1, 0.5]),
      labels: { type: 'float32' as const, dims: [2], data: Float32Array.of(2.5, -1) },
      teacher_probs: { type: 'float32' as const, dims: [2, 1], data: Float32Array.of(0.75, 0.25) },
    });
    const out = await s.run(regressionFeeds(w));
    const [a, b] = out['logits']!.data as Float32Array;
    const mse = (x: number, y: number, p: number, q: number) => ((x - p) ** 2 + (y - q) ** 2) / 2;
    const expected = mse(a!, b!, 2.5, -1) + 0.5 * mse(a!, b!, 0.75, 0.25);
    expect(Number(out['loss']!.data[0])).toBeCloseTo(expected, 5);
    const name = 'classifier.weight';
    const g = (out[`grad.${name}`]!.data as Float32Array)[5]!;
    const bumped = async (delta: number) => {
      const data = Float32Array.from(w.get(name)!.data);
      data[5]! += delta;
      const out2 = await s.run(regressionFeeds(new Map(w).set(name, { dims: w.get(name)!.dims, data })));
      return Number(out2['loss']!.data[0]);
    };
    expect(Math.abs(((await bumped(1e-2)) - (await bumped(-1e-2))) / 2e-2 - g)).toBeLessThan(
      2e-3 + 0.01 * Math.abs(g),
    );
    await s.release();
  });

  it('applies reproducible dropout that depends on the fed offsets', async () => {
    const c = config(0.3);
    const w = createRandomWeights(c, 4, {}, 0.3);
    const t = buildTrainingGraph(c, w, { task: 'classification', maxBatch: 2, maxSeq: 6, layerDrop: true });
    expect(t.dropoutSites).toBe(1 + 3 * c.numLayers + 1);
    const s = await runtime.createSession(toModelProto(t.graph));
    const f: Record<string, HostTensor> = {
      ...feeds(w, [6, 6, 5, 5], [0, 1]),
      layer_on: { type: 'bool' as const, dims: [2], data: Uint8Array.of(1, 1) },
    };
    f['dropout_offsets'] = {
      type: 'int64',
      dims: [t.dropoutSites],
      data: BigInt64Array.from({ length: t.dropoutSites }, (_, i) => BigInt(i * 7)),
    };
    const a = (await s.run(f))['loss']!.data[0];
    const b = (await s.run(f))['loss']!.data[0];
    f['dropout_offsets'] = {
      type: 'int64',
      dims: [t.dropoutSites],
      data: BigInt64Array.from({ length: t.dropoutSites }, (_, i) => BigInt(i * 7 + 1)),
    };
    const other = (await s.run(f))['loss']!.data[0];
    expect(a).toBe(b);
    expect(other).not.toBe(a);
    await s.release();
  });

  it('drops where the noise is below the rate and scales the rest by 1/(1 − rate), at every site', async () => {
    const c = config(0.3);
    const w = createRandomWeights(c, 4, {}, 0.3);
    const t = buildTrainingGraph(c, w, { task: 'classification', maxBatch: 2, maxSeq: 6 });
    // Each site: y = Mul(x, Where(Less(noise, rate), 0, scale)); expose x, the noise and y.
    const sites = t.graph.nodes.filter(
      (n) =>
        n.opType === 'Where' && t.graph.nodes.some((m) => m.opType === 'Mul' && m.inputs[1] === n.outputs[0]),
    );
    expect(sites).toHaveLength(t.dropoutSites);
    const probes = sites.map((where, k) => {
      const less = t.graph.nodes.find((n) => n.outputs[0] === where.inputs[0])!;
      const mul = t.graph.nodes.find((n) => n.opType === 'Mul' && n.inputs[1] === where.outputs[0])!;
      const names = { x: `probe${k}.x`, noise: `probe${k}.noise`, y: `probe${k}.y` };
      t.graph.output(t.graph.value(mul.inputs[0]!), names.x);
      t.graph.output(t.graph.value(less.inputs[0]!), names.noise);
      t.graph.output(t.graph.value(mul.outputs[0]!), names.y);
      return names;
    });
    const s = await runtime.createSession(toModelProto(t.graph));
    const out = await s.run(feeds(w, [6, 6, 5, 5], [0, 1]));
    await s.release();
    const scale = Math.fround(1 / (1 - 0.3));
    let dropped = 0;
    let total = 0;
    for (const p of probes) {
      const [x, noise, y] = [p.x, p.noise, p.y].map((n) => out[n]!.data as Float32Array);
      y!.forEach((v, i) => expect(v).toBe(Math.fround(x![i]! * (noise![i]! < Math.fround(0.3) ? 0 : scale))));
      dropped += noise!.filter((v) => v < 0.3).length;
      total += noise!.length;
    }
    expect(dropped / total).toBeGreaterThan(0.2);
    expect(dropped / total).toBeLessThan(0.4);
  });

  it('builds the backward graph of a 12-layer BERT-base-sized encoder, growing linearly with depth', () => {
    // Only shapes matter for building: no 440 MB of weights needed. No clock (a loaded machine
    // makes timings flaky): the node count must grow by the same amount per layer.
    const build = (numLayers: number) => {
      const c = { ...bertBaseConfig(), numLayers };
      const shapes = new Map(
        [...expectedShapes(c)].map(([n, dims]) => [n, { dims, data: new Float32Array(0) }]),
      );
      const t = buildTrainingGraph(c, shapes, {
        task: 'classification',
        maxBatch: 8,
        maxSeq: 128,
        layerDrop: true,
      });
      expect(t.paramNames).toHaveLength(shapes.size);
      const gradients = t.graph.outputs.filter((o) => o.name.startsWith('grad.'));
      expect(gradients.filter((o) => !o.name.endsWith('.indices'))).toHaveLength(shapes.size);
      return t.graph.nodes.length;
    };
    const [three, six, twelve] = [3, 6, 12].map(build);
    expect(twelve - six).toBe(2 * (six - three));
  });
});

describe('dropout noise table of long pooled inputs', () => {
  const long = (pooling?: Record<string, unknown>) =>
    parseModelConfig({
      ...toHfConfig(config()),
      max_position_embeddings: 4096,
      ...(pooling ? { lat_pooling: { input_length: 4096, ...pooling } } : {}),
    });

  it('grows as N·c for blockwise layers before pooling, N² only with full attention', () => {
    const B = 4;
    const H = 2;
    const pooled = long({ schedule: [[0, 256]], chunk: 512 });
    // Layer 0: blockwise probs B·H·(N/512)·512²; layer 1: 256 rows.
    expect(largestDropoutTensor(pooled, B, 4096)).toBe(B * H * 4096 * 512);
    expect(largestDropoutTensor(pooled, B, 2048)).toBe(B * H * 2048 * 512);
    const pyramid = long({
      schedule: [
        [0, 1024],
        [1, 256],
      ],
      chunk: 512,
    });
    // Layer 1 attends over 1024 rows (1024² < 4096·512).
    expect(largestDropoutTensor(pyramid, B, 4096)).toBe(B * H * 4096 * 512);
    const wide = long({
      schedule: [
        [0, 2048],
        [1, 256],
      ],
      chunk: 256,
    });
    expect(largestDropoutTensor(wide, B, 4096)).toBe(B * H * 2048 ** 2);
    const blockwise = long({ schedule: [], chunk: 512 });
    expect(largestDropoutTensor(blockwise, B, 4096)).toBe(B * H * 4096 * 512);
    // Pooling without blocks attends over every row in layer 0; so does full attention.
    expect(largestDropoutTensor(long({ schedule: [[0, 256]] }), B, 4096)).toBe(B * H * 4096 ** 2);
    expect(largestDropoutTensor(long(), B, 4096)).toBe(B * H * 4096 ** 2);
    // Short inputs: the hidden states can be the biggest.
    expect(largestDropoutTensor(long({ schedule: [[0, 2]], chunk: 2 }), 1, 8)).toBe(8 * 16);
  });

  it('trains a pooled model on 4096 tokens: one step with finite gradients, table 2·B·H·N·c + 1', async () => {
    const c = long({ schedule: [[0, 256]], chunk: 512 });
    const w = withScorers(c, createRandomWeights(c, 2));
    const t = buildTrainingGraph(c, w, { task: 'classification', maxBatch: 1, maxSeq: 4096 });
    expect(t.noiseTableSize).toBe(2 * 2 * 4096 * 512 + 1);
    const session = await runtime.createSession(toModelProto(t.graph), { memoryPattern: false });
    const n = 4096;
    const x = {
      batch: 1,
      inputIds: BigInt64Array.from({ length: n }, (_, i) => BigInt(i === 0 ? 2 : 5 + (i % 20))),
      attentionMask: new BigInt64Array(n).fill(1n),
      tokenTypeIds: new BigInt64Array(n),
    };
    const f = {
      ...t.feeds.batch(x, [1], w),
      ...t.feeds.teacher(x),
      ...t.feeds.pass(x, {
        setting: undefined,
        dropoutOffsets: BigInt64Array.from({ length: t.dropoutSites }, (_, i) => BigInt(1000 * i)),
        lossWeights: { [taskLoss]: 1 },
      }),
    };
    const out = await session.run(f);
    await session.release();
    expect(Number.isFinite(t.feeds.loss(out))).toBe(true);
    const grads = t.feeds.grads(out);
    const scorer = grads['pooling.scorer.0.weight']!;
    expect(scorer.every(Number.isFinite)).toBe(true);
    expect(scorer.some((v) => v !== 0)).toBe(true);
  }, 60_000);
});

describe('training graphs that skip work a step does not need', () => {
  // 3 layers, dropout and LayerDrop on: every dropout mask must be the one the full graph draws.
  const c = parseModelConfig({ ...toHfConfig(config(0.3)), num_hidden_layers: 3 });
  const w = createRandomWeights(c, 9, {}, 0.3);
  const layerFeeds = (keep: number[], on: number[]) => {
    const f: Record<string, HostTensor> = {
      ...feeds(w, [], [0.6, 0.4]),
      keep_counts: { type: 'int64', dims: [2, 3], data: BigInt64Array.from(keep.map(BigInt)) },
      layer_on: { type: 'bool', dims: [3], data: Uint8Array.from(on) },
    };
    return f;
  };
  const build = (o: { firstRowOnly?: boolean; plain?: boolean; rowGradients?: boolean }) =>
    buildTrainingGraph(c, w, {
      task: 'classification',
      maxBatch: 2,
      maxSeq: 6,
      layerDrop: true,
      ...(o.plain ? { reducer: null } : {}),
      ...(o.firstRowOnly === false ? { firstRowOnly: false } : {}),
      ...(o.rowGradients === false ? { rowGradients: false } : {}),
    });
  const run = async (t: ReturnType<typeof build>, f: Record<string, HostTensor>) => {
    const s = await runtime.createSession(toModelProto(t.graph));
    f['dropout_offsets'] = {
      type: 'int64',
      dims: [t.dropoutSites],
      data: BigInt64Array.from({ length: t.dropoutSites }, (_, i) => BigInt(i * 11 + 3)),
    };
    const inputs = Object.fromEntries(Object.entries(f).filter(([k]) => s.inputNames.includes(k)));
    const out = await s.run(inputs);
    await s.release();
    return { loss: t.feeds.loss(out), grads: t.feeds.grads(out) };
  };
  const expectSame = (a: Awaited<ReturnType<typeof run>>, b: Awaited<ReturnType<typeof run>>) => {
    expect(a.loss).toBeCloseTo(b.loss, 6);
    for (const [name, g] of Object.entries(b.grads)) {
      if (name.endsWith('key.bias')) {
        // Zero in exact arithmetic (softmax ignores a shift all keys share): both are rounding noise.
        for (const x of [g, a.grads[name]!])
          expect(Math.max(...Array.from(x, Math.abs)), name).toBeLessThan(1e-6);
        continue;
      }
      const scale = Math.max(...Array.from(g, Math.abs), 1e-3);
      const worst = Math.max(...Array.from(g, (v, i) => Math.abs(v - a.grads[name]![i]!)));
      expect(worst / scale, name).toBeLessThan(1e-5);
    }
  };

  it("computes only [CLS]'s row in the last layer, with the full graph's loss, gradients and dropout masks", async () => {
    const cut = build({});
    const full = build({ firstRowOnly: false });
    expect(cut.dropoutSites).toBe(full.dropoutSites);
    // The last layer's query, output projection and FFN run on one row: its TopK and Gather are gone too.
    expect(cut.graph.nodes.length).toBeLessThan(full.graph.nodes.length);
    const settings: [number[], number[]][] = [
      [
        [6, 6, 6, 5, 5, 5],
        [1, 1, 1],
      ], // full length
      [
        [5, 4, 2, 4, 3, 3],
        [1, 1, 1],
      ], // LAT lengths, the last layer reducing too
      [
        [5, 4, 2, 4, 3, 3],
        [1, 1, 0],
      ], // the last layer skipped by LayerDrop
      [
        [6, 3, 3, 5, 2, 2],
        [1, 0, 1],
      ],
    ];
    for (const [keep, on] of settings)
      expectSame(await run(cut, layerFeeds(keep, on)), await run(full, layerFeeds(keep, on)));
  });

  it('plain fine-tuning builds no selection ops and gives the full-length LAT graph its loss and gradients', async () => {
    const plain = build({ plain: true });
    const lat = build({ firstRowOnly: false });
    expect(plain.graph.nodes.some((n) => n.opType === 'TopK')).toBe(false);
    expect(plain.graph.inputs.some((i) => i.name === 'keep_counts')).toBe(false);
    // Plain training keeps every real token in every layer: keep counts are the real lengths.
    for (const on of [
      [1, 1, 1],
      [0, 1, 1],
    ])
      expectSame(
        await run(plain, layerFeeds([6, 6, 6, 5, 5, 5], on)),
        await run(lat, layerFeeds([6, 6, 6, 5, 5, 5], on)),
      );
  });

  it("returns embedding tables' gradients as looked-up rows, added up on the host to the dense gradients exactly", async () => {
    const rows = build({});
    const dense = build({ rowGradients: false });
    const tables = [
      'embeddings.word_embeddings.weight',
      'embeddings.position_embeddings.weight',
      'embeddings.token_type_embeddings.weight',
    ];
    for (const n of tables) {
      expect(rows.graph.outputs.some((o) => o.name === `grad.${n}.rows`)).toBe(true);
      expect(dense.graph.outputs.some((o) => o.name === `grad.${n}`)).toBe(true);
    }
    // No table of zeros is scattered into in the graph any more.
    expect(rows.graph.nodes.filter((n) => n.opType === 'ScatterElements')).toHaveLength(
      dense.graph.nodes.filter((n) => n.opType === 'ScatterElements').length - tables.length,
    );
    for (const [keep, on] of [
      [
        [6, 6, 6, 5, 5, 5],
        [1, 1, 1],
      ],
      [
        [5, 4, 2, 4, 3, 3],
        [1, 0, 1],
      ],
    ]) {
      const a = await run(rows, layerFeeds(keep!, on!));
      const b = await run(dense, layerFeeds(keep!, on!));
      expect(a.loss).toBe(b.loss);
      for (const n of tables) expect(a.grads[n]).toEqual(b.grads[n]);
    }
  });
});
