/**
 * Fuzz target for config.json, loaded with its weights as a model directory is (the architecture
 * registry parses it); core's fuzz.test.ts has the file-format targets. See core's testing/fuzz.ts.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeSafetensors } from '@lat/core/node';
import { checkLoaderCase, corruptJson, fuzzDir, fuzzRuns } from '@lat/core/testing';
import fc from 'fast-check';
import { afterAll, describe, it } from 'vitest';
import { parseModelConfig, toHfConfig } from './architectures/config.js';
import { createRandomWeights, toHfNames } from './architectures/weights.js';
import { loadModelDir } from './model-dir.js';

const dir = fuzzDir();
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const params = { numRuns: fuzzRuns, seed: 18, endOnFailure: true };
const config = parseModelConfig({
  model_type: 'bert',
  vocab_size: 8,
  hidden_size: 4,
  num_hidden_layers: 1,
  num_attention_heads: 2,
  intermediate_size: 4,
  max_position_embeddings: 8,
});

describe('fuzz: the model-directory loader fails with a LatError naming the file', () => {
  it('config.json (loaded with its weights, as a model directory is)', () => {
    const model = join(dir, 'model');
    mkdirSync(model);
    writeSafetensors(join(model, 'model.safetensors'), toHfNames(createRandomWeights(config, 1), config));
    fc.assert(
      fc.property(corruptJson(toHfConfig(config)), (text) =>
        checkLoaderCase(join(model, 'config.json'), text, () => loadModelDir(model)),
      ),
      params,
    );
  }, 60_000);
});
