/**
 * Crash consistency: training is stopped at every file-system step of a checkpoint save — as a
 * kill (the disk as it was at that instant, copied aside) and as a failure (ENOSPC: the save
 * throws and cleans up) — and `train(true)` must continue from the newest complete checkpoint,
 * ending with exactly the losses and weights of an uninterrupted run.
 */
import { cpSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WordPieceTokenizer } from '@lat/core';
import { createRandomWeights } from '@lat/layers';
import { createNodeRuntime } from '@lat/runtime-node';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeExamples } from './batches.js';
import { checkpointFaults } from './checkpoint.js';
import { generateSentimentTask, syntheticModelConfig } from './synthetic.js';
import { Trainer, type TrainerSetup } from './trainer.js';

const runtime = createNodeRuntime({ threads: 1 });
const task = generateSentimentTask({ seed: 2, train: 48, dev: 8 });
const train = encodeExamples(task.train, new WordPieceTokenizer(task.vocab), 24);
const config = syntheticModelConfig({ layers: 2, hidden: 16, heads: 2 });
const weights = createRandomWeights(config, 1);
const steps = [
  'write model files',
  'write optimizer.safetensors',
  'write trainer_state.json',
  'rename checkpoint to old',
  'rename new checkpoint into place',
  'remove old checkpoint',
];
/** The save whose steps are interrupted: the 3rd (after optimizer step 3). */
const crashAt = 3;

const trainer = (outDir: string, onEvent?: TrainerSetup['onEvent']) =>
  new Trainer({
    runtime,
    config,
    weights,
    train,
    metrics: ['accuracy'],
    outDir,
    options: { epochs: 2, batchSize: 16, learningRate: 1e-3, seed: 4, checkpointEvery: 1 },
    ...(onEvent ? { onEvent } : {}),
  });
const newDir = () => mkdtempSync(join(tmpdir(), 'lat-crash-'));

class Crash extends Error {}

/** Runs until save number `crashAt` reaches `step`; then `onCrash(outDir)` and a thrown Crash. */
async function crashingRun(step: string, onCrash: (dir: string) => void): Promise<string> {
  const dir = newDir();
  let saves = 0;
  checkpointFaults.beforeStep = (s) => {
    if (s === steps[0]) saves++;
    if (saves === crashAt && s === step) {
      onCrash(dir);
      throw new Crash(step);
    }
  };
  await expect(trainer(dir).train()).rejects.toThrow(Crash);
  checkpointFaults.beforeStep = undefined;
  return dir;
}

afterEach(() => {
  checkpointFaults.beforeStep = undefined;
});

describe('checkpoints survive a crash at any step', () => {
  it('resumes from the newest complete checkpoint after a kill or a failure at every write and rename', async () => {
    const full = await trainer(newDir()).train();
    expect(full.steps).toBe(6);
    for (const step of steps) {
      // Kill: what is on disk at that instant, including partial and temporary directories.
      let image = '';
      await crashingRun(step, (dir) => {
        image = newDir();
        cpSync(dir, image, { recursive: true });
      });
      // The new checkpoint is complete once trainer_state.json is written (the renames come after).
      const newest = steps.indexOf(step) >= steps.indexOf('rename checkpoint to old') ? crashAt : crashAt - 1;
      let first = 0;
      const resumed = await trainer(image, (e) => {
        if (e.type === 'step' && !first) first = e.step;
      }).train(true);
      expect(first, `killed at '${step}'`).toBe(newest + 1);
      expect(resumed.losses, `killed at '${step}'`).toEqual(full.losses);
      for (const [name, w] of full.weights) expect(resumed.weights.get(name)!.data).toEqual(w.data);
      expect(readdirSync(image).filter((n) => n.startsWith('checkpoint'))).toEqual(['checkpoint']);

      // Failure (a full disk): the save throws; no partial directory is left taking space.
      const failed = await crashingRun(step, () => {});
      const left = readdirSync(failed).filter((n) => n.startsWith('checkpoint.tmp-'));
      if (steps.indexOf(step) < steps.indexOf('rename checkpoint to old')) expect(left).toEqual([]);
      const again = await trainer(failed).train(true);
      expect(again.losses).toEqual(full.losses);
    }
  }, 120_000);
});

describe('a span model’s checkpoint', () => {
  it('keeps qa_outputs when resumed and as the best epoch (config.json names no head)', async () => {
    const { loadBestWeights, loadCheckpoint, saveCheckpoint } = await import('./checkpoint.js');
    const span = createRandomWeights(config, 3, { qa: true, classifier: false });
    const state = { step: 1, epoch: 0, batchInEpoch: 1, rng: [1], epochRng: [1], losses: [0.5] };
    const dir = newDir();
    saveCheckpoint(dir, config, span, { step: 1, m: {}, v: {} }, state);
    const ck = loadCheckpoint(dir, config);
    expect([...ck.weights.keys()].sort()).toEqual([...span.keys()].sort());
    expect(ck.weights.get('qa_outputs.weight')!.data).toEqual(span.get('qa_outputs.weight')!.data);
    cpSync(join(dir, 'checkpoint'), join(dir, 'checkpoint-best'), { recursive: true });
    expect(loadBestWeights(dir, config).has('qa_outputs.bias')).toBe(true);
  });
});
