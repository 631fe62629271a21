import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WordPieceTokenizer } from '@lat/core';
import { afterAll, describe, expect, it } from 'vitest';
import { parseModelConfig } from './architectures/config.js';
import { createRandomWeights } from './architectures/weights.js';
import { exportModel } from './export.js';
import { tinyAdaplerModel } from './testing/index.js';
import { tinyModel, writeBundle } from './testing/tiny-model.js';

// The official ONNX checker (Debian's python3-onnx; CI installs it when it can, see
// tooling/scripts/ensure-python-onnx.sh). full_check adds strict shape inference, which needs every
// graph and If-branch output to carry its type and shape.
// Debian's interpreter first: a pyenv/venv python3 earlier on PATH may not see dist-packages.
const python = ['/usr/bin/python3', 'python3'].find(
  (p) => spawnSync(p, ['-c', 'import onnx'], { encoding: 'utf8' }).status === 0,
);
const hasOnnx = python !== undefined;
if (!hasOnnx) console.warn('python3 with the onnx package is not installed: skipping the ONNX checker test');

const dir = mkdtempSync(join(tmpdir(), 'lat-export-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function checkModel(path: string) {
  return spawnSync(
    python!,
    ['-c', 'import onnx, sys; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)', path],
    { encoding: 'utf8' },
  );
}

describe.skipIf(!hasOnnx)('exported bundles pass onnx.checker.check_model(full_check=True)', () => {
  for (const [arch, head, dtype] of [
    ['bert', 'classification', 'fp32'],
    ['distilbert', 'classification', 'fp32'],
    ['bert', 'span', 'fp32'],
    ['bert', 'classification', 'q8'],
    ['distilbert', 'span', 'q8'],
  ] as const) {
    it(`${arch}, ${head} head, ${dtype}`, () => {
      const config = parseModelConfig(
        arch === 'bert'
          ? {
              model_type: 'bert',
              vocab_size: 30,
              hidden_size: 8,
              num_hidden_layers: 2,
              num_attention_heads: 2,
              intermediate_size: 16,
              max_position_embeddings: 16,
              num_labels: 2,
            }
          : {
              model_type: 'distilbert',
              vocab_size: 30,
              dim: 8,
              n_layers: 2,
              n_heads: 2,
              hidden_dim: 16,
              max_position_embeddings: 16,
            },
      );
      const out = join(dir, `${arch}-${head}-${dtype}`);
      exportModel(
        out,
        config,
        createRandomWeights(config, 1, head === 'span' ? { qa: true, classifier: false } : {}),
        {
          name: 'tiny',
          fingerprint: '0',
          task:
            head === 'span' ? { type: 'span', labels: [] } : { type: 'classification', labels: ['a', 'b'] },
          tokenizer: new WordPieceTokenizer(['[PAD]', '[UNK]', '[CLS]', '[SEP]']),
          maxLength: 16,
          dtype,
        },
      );
      const r = checkModel(join(out, 'model.onnx'));
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
    });
  }

  it('roberta with its BPE tokenizer, span head', () => {
    const m = tinyModel({ architecture: 'roberta', hidden: 8, numHeads: 2, maxPositions: 16 });
    const out = join(dir, 'roberta-span');
    writeBundle(out, m, { task: 'span', maxLength: 16 });
    const r = checkModel(join(out, 'model.onnx'));
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('an AdapLeR model (hard per-input removal), fp32 and q8', () => {
    const m = tinyAdaplerModel({ hidden: 8, numHeads: 2, maxPositions: 16, eta: 0.5 });
    for (const dtype of ['fp32', 'q8'] as const) {
      const out = join(dir, `adapler-${dtype}`);
      writeBundle(out, m, { task: 'classification', maxLength: 16, dtype });
      const r = checkModel(join(out, 'model.onnx'));
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
    }
  });
});
