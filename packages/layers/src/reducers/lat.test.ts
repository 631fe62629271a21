import { type SessionOptions, toModelProto, type Value } from '@lat/core';
import { createNodeRuntime } from '@lat/runtime-node';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type AnytimeModel,
  type AnytimeOptions,
  buildAnytimeGraph,
  createAnytimeModel,
  type EncodedBatch,
  encoderFeeds,
  parseAnytimeOutputs,
} from '../anytime.js';
import { createRandomWeights, parseModelConfig } from '../architectures/index.js';
import { gatherRows, range } from '../blocks/rows.js';
import { keepCountsInput, type LatSetting, latReducer } from './lat.js';
import type { TokenReducer } from './reducer.js';

/**
 * LAT's selection as it was built before its ops were cut (Mul + ReduceSum over the
 * probabilities, [CLS] by row index, the kept order from a TopK of the negated indices, validity
 * gathered by rank, rows through the flattened batch): the graph the current one must equal.
 */
const previousLat: TokenReducer<LatSetting> = {
  ...latReducer,
  name: 'lat-previous',
  build: ({ g, config }) => {
    const keep = g.input(keepCountsInput, 'int64', ['batch', config.numLayers]);
    const minusOne = g.scalar(-1);
    const big = g.scalar(1e9);
    return {
      keepsEverything: (n: Value) => g.not(g.less(g.reduceMin(keep, [0, 1], false), n)),
      reduce: ({ layer: i, attended, probs, mask: m, positions: pos }) => {
        const counts = g.gather(keep, g.int64(i), 1);
        const current = g.squeeze(g.slice(g.shapeOf(attended), [1], [2], [0], [1]), [0]);
        return {
          keepsAll: () => g.not(g.less(g.reduceMin(counts, [0], false), current)),
          reduce() {
            const kLayer = g.reduceMax(counts, [0], true);
            const rank = range(g, g.squeeze(kLayer, [0]));
            const validByRank = g.cast(g.less(g.unsqueeze(rank, [0]), g.unsqueeze(counts, [1])), g.float);
            const received = g.reduceSum(g.mul(probs, g.unsqueeze(m, [1, 3])), [1, 2], false);
            const isFirst = g.equal(range(g, current), g.int64(0));
            const score = g.where(isFirst, big, g.where(g.greater(m, g.scalar(0)), received, minusOne));
            const [, bySignificance] = g.topK(score, kLayer, 1);
            const [, order] = g.topK(g.neg(g.cast(bySignificance, g.float)), kLayer, 1);
            const idx = g.gatherElements(bySignificance, order, 1);
            const valid = g.gatherElements(validByRank, order, 1);
            return {
              rows: (x) => gatherRows(g, x, idx, config.hiddenSize),
              mask: g.mul(g.gatherElements(m, idx, 1), valid),
              positions: g.gatherElements(pos, idx, 1),
              valid,
            };
          },
        };
      },
    };
  },
};

const runtime = createNodeRuntime({ threads: 1 });
const c = parseModelConfig({
  model_type: 'bert',
  vocab_size: 120,
  hidden_size: 64,
  num_hidden_layers: 4,
  num_attention_heads: 4,
  intermediate_size: 128,
  max_position_embeddings: 64,
  num_labels: 3,
});
const w = createRandomWeights(c, 7, { classifier: true, qa: true });

/** Three examples of 40, 23 and 31 tokens, padded to 40. */
function batch(): EncodedBatch {
  const lengths = [40, 23, 31];
  const n = 40;
  const ids = new BigInt64Array(lengths.length * n);
  const mask = new BigInt64Array(lengths.length * n);
  lengths.forEach((len, b) => {
    for (let j = 0; j < len; j++) {
      ids[b * n + j] = BigInt(j === 0 ? 2 : 5 + ((b * 31 + j * 17) % 110));
      mask[b * n + j] = 1n;
    }
  });
  return { inputIds: ids, attentionMask: mask, batch: lengths.length };
}

const settings: [string, LatSetting][] = [
  ['full length', undefined],
  ['every layer at half', { form: 'ratio', ratios: [0.5, 0.5, 0.5, 0.5] }],
  ['decreasing ratios', { form: 'ratio', ratios: [0.9, 0.7, 0.45, 0.2] }],
  ['absolute lengths over the padded length', { form: 'absolute', lengths: [36, 30, 17, 9] }],
  // Per-example counts differing within the batch: slots past an example's own count are unused.
  [
    'per-example counts',
    {
      form: 'counts',
      counts: [
        [40, 25, 12, 4],
        [18, 18, 10, 10],
        [29, 11, 11, 1],
      ],
    },
  ],
  // Layer 1 keeps every row layer 0 kept (its If passes them, and the key bias, through); the
  // third example's count past its own kept rows leaves its unused slots unused.
  [
    'a layer keeping all an earlier one kept',
    {
      form: 'counts',
      counts: [
        [20, 20, 8, 8],
        [20, 20, 8, 3],
        [15, 20, 8, 8],
      ],
    },
  ],
];

const models: AnytimeModel[] = [];
afterAll(async () => Promise.all(models.map((m) => m.release())));

/** The graph with its full-length branch's If in one session, as models above `twoSessionsMaxParams` run it. */
async function oneSession(o: AnytimeOptions & { session: SessionOptions }): Promise<AnytimeModel> {
  const session = await runtime.createSession(toModelProto(buildAnytimeGraph(c, w, o)), o.session);
  return {
    config: c,
    session,
    async run(x, setting) {
      const feeds = { ...encoderFeeds(c, x), ...latReducer.feeds(setting, x, c) };
      return parseAnytimeOutputs(c, feeds, await session.run(feeds));
    },
    release: () => session.release(),
  };
}

const layouts = {
  'two sessions': (o: AnytimeOptions & { session: SessionOptions }) =>
    createAnytimeModel(runtime, c, w, { ...o, fullLengthBranch: true }),
  'one session with the full-length If': (o: AnytimeOptions & { session: SessionOptions }) =>
    oneSession({ ...o, fullLengthBranch: true }),
  'per-layer Ifs': (o: AnytimeOptions & { session: SessionOptions }) =>
    createAnytimeModel(runtime, c, w, { ...o, fullLengthBranch: false }),
};

describe('LAT selection equals its previous graph', () => {
  for (const head of ['classification', 'span'] as const)
    for (const [layout, open] of Object.entries(layouts))
      it(`${head} head, ${layout}: outputs within 1e-5, same kept positions`, async () => {
        const o = { head, session: { threads: 1 } };
        const now = await open(o);
        const before = await createAnytimeModel(runtime, c, w, {
          ...o,
          reducer: previousLat,
          fullLengthBranch: false,
        });
        models.push(now, before);
        for (const [, setting] of settings) {
          const a = await now.run(batch(), setting);
          const b = await before.run(batch(), setting);
          for (const k of ['logits', 'startLogits', 'endLogits'] as const) {
            if (!b[k]) continue;
            const diff = Math.max(...a[k]!.map((v, i) => Math.abs(v - b[k]![i]!)));
            expect(diff).toBeLessThanOrEqual(1e-5);
          }
          expect(a.keptPositions).toEqual(b.keptPositions);
          expect(a.keepCounts).toEqual(b.keepCounts);
        }
        // The settings do reduce: a later layer keeps fewer positions than the input has.
        const reduced = await now.run(batch(), settings[2]![1]);
        expect(reduced.keptPositions[3]![0]!.length).toBe(8);
      });
});
