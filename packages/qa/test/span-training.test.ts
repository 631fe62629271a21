/**
 * A tiny generated span task trained with LengthDrop through @lat/train: at a strongly reduced
 * length configuration the model keeps its F1 *because of* Drop-and-Restore — the same model
 * without restore (only tokens kept to the last layer can be answers) loses most of it.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type LengthSpec, Rng, WordPieceTokenizer } from '@lat/core';
import { createAnytimeModel, createRandomWeights, parseModelConfig } from '@lat/layers';
import { createNodeRuntime } from '@lat/runtime-node';
import { type Encoded, Trainer } from '@lat/train';
import { describe, expect, it } from 'vitest';
import { decodeAnswers } from '../src/decode.js';
import { buildFeatures, type Feature } from '../src/features.js';
import { f1Score } from '../src/squad-metrics.js';

const filler = 'the a film story plot cast scene and but with of to in on for it this that was very'.split(
  ' ',
);
const cities = 'paris rome oslo lima cairo delhi tokyo quito accra hanoi'.split(' ');
const vocab = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', 'where', ...filler, ...cities, '.'];
const tok = new WordPieceTokenizer(vocab);

function example(rng: Rng) {
  const words = Array.from({ length: 10 + rng.int(12) }, () => filler[rng.int(filler.length)]!);
  const city = cities[rng.int(cities.length)]!;
  words.splice(rng.int(words.length + 1), 0, city);
  const context = `${words.join(' ')} .`;
  return {
    question: 'where',
    context,
    answer: { start: context.indexOf(` ${city} `) + 1 || context.indexOf(city), text: city },
  };
}

describe('span QA trained with LengthDrop', () => {
  it('keeps its F1 at a reduced configuration because of Drop-and-Restore', async () => {
    const rng = new Rng(11);
    const train = Array.from({ length: 800 }, () => example(rng));
    const dev = Array.from({ length: 150 }, () => example(rng));
    const feature = (e: ReturnType<typeof example>): Feature =>
      buildFeatures(tok, e, { maxSeqLength: 48 })[0]!;
    const encoded: Encoded[] = train.map((e) => {
      const f = feature(e);
      return { ids: f.ids, typeIds: f.typeIds, label: 0, span: [f.startPosition!, f.endPosition!] };
    });
    const config = parseModelConfig({
      model_type: 'bert',
      vocab_size: vocab.length,
      hidden_size: 64,
      num_hidden_layers: 3,
      num_attention_heads: 4,
      intermediate_size: 128,
      max_position_embeddings: 64,
      hidden_dropout_prob: 0.1,
      attention_probs_dropout_prob: 0.1,
    });
    // One thread: deterministic kernels, so the F1 figures repeat on a loaded machine.
    const runtime = createNodeRuntime({ threads: 1 });
    const result = await new Trainer({
      runtime,
      config,
      task: 'span',
      weights: createRandomWeights(config, 3, { qa: true, classifier: false }),
      train: encoded,
      metrics: [],
      outDir: mkdtempSync(join(tmpdir(), 'lat-qa-')),
      options: {
        epochs: 6,
        batchSize: 32,
        learningRate: 2e-3,
        seed: 2,
        lengthDrop: { ratioBound: 0.5, minLength: 2, numSandwich: 2 },
        layerDrop: 0,
      },
    }).train();

    const f1 = async (restore: boolean, lengths?: LengthSpec) => {
      const model = await createAnytimeModel(runtime, config, result.weights, {
        head: 'span',
        restore,
        keptPositions: false,
      });
      let total = 0;
      for (const e of dev) {
        const f = feature(e);
        const out = await model.run(
          {
            inputIds: BigInt64Array.from(f.ids, BigInt),
            attentionMask: new BigInt64Array(f.ids.length).fill(1n),
            tokenTypeIds: BigInt64Array.from(f.typeIds, BigInt),
            batch: 1,
          },
          lengths,
        );
        const [best] = decodeAnswers(e.context, [f], [{ start: out.startLogits!, end: out.endLogits! }]);
        total += f1Score(best?.text ?? '', e.answer.text);
      }
      await model.release();
      return total / dev.length;
    };
    // The last layer keeps only [CLS]: without restore no context token is left to answer with.
    const reduced: LengthSpec = { form: 'ratio', ratios: [0.5, 0.25, 0.04] };
    const full = await f1(true);
    const withRestore = await f1(true, reduced);
    const withoutRestore = await f1(false, reduced);
    console.log(
      `span F1: full ${full.toFixed(3)}, reduced with restore ${withRestore.toFixed(3)}, without ${withoutRestore.toFixed(3)}`,
    );
    expect(full).toBeGreaterThan(0.9);
    expect(withRestore).toBeGreaterThan(full - 0.1); // stated margin: within 10 F1 points
    expect(withoutRestore).toBeLessThan(withRestore - 0.2);
  }, 120_000);
});
