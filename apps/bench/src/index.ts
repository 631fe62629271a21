import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createNodeRuntime } from '@lat/runtime-node';
import { createWebRuntime } from '@lat/runtime-web';
import { Report } from './report.js';
import { axformerRuns } from './sections/axformer.js';
import { browser } from './sections/browser.js';
import { accuracyCurve, sst2Curve } from './sections/curves.js';
import { exportedBaselines, fullLengthOverhead } from './sections/exported.js';
import { frontierSpeed } from './sections/frontier.js';
import { fwdBwd } from './sections/fwd-bwd.js';
import { inference } from './sections/inference.js';
import { branchMemory, memoryWorker } from './sections/memory.js';
import { poolingAccuracy, poolingSpeed } from './sections/pooling.js';
import { poolingQa } from './sections/pooling-qa.js';
import { trainingProfile } from './sections/profile.js';
import { q8Anchors } from './sections/q8-anchor.js';
import { q8Ops } from './sections/q8-ops.js';
import { quantized } from './sections/quantized.js';
import { realisedShare } from './sections/share.js';
import { otherTrainingRates, training, trainWorker } from './sections/training.js';
import { chosenSizes, flag, quick, repo, sizes, threads } from './setup.js';

/**
 * onnxruntime-node with the bench's threads, sessions not spinning: the sections run several
 * sessions in turn, and a pool still spinning after its run slows the next session's run.
 */
const nodeRuntime = (t = threads) => createNodeRuntime({ threads: t, spinning: false });

async function main() {
  if (process.argv[2] === '--train-worker') return trainWorker(JSON.parse(process.argv[3]!));
  if (process.argv[2] === '--memory-worker') return memoryWorker(JSON.parse(process.argv[3]!));
  if (process.argv[2] === '--tfjs-worker') {
    const { tfjsTrain } = await import('./tfjs-bert.js'); // only here: tfjs loads its backends on import
    return console.log(JSON.stringify(await tfjsTrain(JSON.parse(process.argv[3]!))));
  }
  const report = new Report();
  const started = new Date();
  console.log(`lat bench${quick ? ' (quick)' : ''}: ${threads} threads`);
  report.push(`## lat benchmarks — ${started.toISOString().slice(0, 10)}`);
  report.push(
    `\nMachine: ${(await import('node:os')).cpus()[0]?.model ?? 'unknown CPU'}, ${threads} threads, Node ${process.version}. Random weights, median latency.`,
  );
  report.push(
    'lat/plain: the anytime graph at full length vs the same BERT without selection ops. r: every layer keeps r × n tokens; speed-up vs plain, with the MACs speed-up and the share of it realised.',
  );
  const only = flag('sections')?.split(',');
  const sections: [string, string, () => Promise<void>][] = [
    [
      'inference',
      'inference, onnxruntime-node',
      () =>
        inference(report, nodeRuntime(), `onnxruntime-node, ${threads} threads`, sizes, [
          [1, 128],
          [8, 128],
          [1, 384],
          [8, 384],
        ]),
    ],
    [
      'share',
      'realised share of the MACs saving (bert-base unless --sizes)',
      () =>
        realisedShare(report, nodeRuntime(), chosenSizes ? sizes : [sizes[2]!], [
          [1, 128],
          [8, 128],
          [1, 384],
          [8, 384],
        ]),
    ],
    [
      'exported',
      'baselines from the standard exporter (torch.onnx.export), onnxruntime-node and transformers.js',
      () =>
        exportedBaselines(
          report,
          nodeRuntime(),
          sizes,
          [
            [1, 128],
            [8, 128],
            [1, 384],
            [8, 384],
          ],
          [
            [1, 128],
            [8, 128],
          ],
        ),
    ],
    [
      'overhead',
      'lat at full length vs the exported graph, CPU time at one thread',
      () =>
        fullLengthOverhead(report, nodeRuntime(1), sizes.slice(0, 2), [
          [1, 32],
          [1, 128],
          [8, 128],
          [1, 384],
        ]),
    ],
    [
      'web',
      'inference, onnxruntime-web (wasm) in Node',
      () =>
        inference(
          report,
          createWebRuntime({ threads: 1 }),
          'onnxruntime-web wasm, 1 thread',
          [sizes[1]!],
          [[1, 128]],
        ),
    ],
    [
      'q8',
      'int8 vs fp32, onnxruntime-node',
      () =>
        quantized(report, nodeRuntime(), `onnxruntime-node, ${threads} threads`, sizes, [
          [1, 128],
          [8, 128],
        ]),
    ],
    [
      'q8anchor',
      'int8 lat vs the same int8 weights as a plain graph (onnxruntime-node, transformers.js); fixture accuracy per layout',
      () =>
        q8Anchors(report, nodeRuntime(1), sizes, [
          [1, 128],
          [8, 128],
        ]),
    ],
    [
      'memory',
      'resident memory: lat with its full-length branch vs the plain graph, fp32 and q8',
      () => branchMemory(report, chosenSizes ? sizes : [sizes[2]!]),
    ],
    [
      'q8ops',
      'q8 op forms on onnxruntime-node vs onnxruntime-web wasm; the shipped wasm binaries',
      () => q8Ops(report),
    ],
    [
      'q8web',
      'int8 vs fp32, onnxruntime-web (wasm) in Node',
      () =>
        quantized(
          report,
          createWebRuntime({ threads: 1 }),
          'onnxruntime-web wasm, 1 thread',
          [sizes[1]!],
          [[1, 128]],
        ),
    ],
    [
      'browser',
      'browser: onnxruntime-web in Chromium and Node, 1 and 2 threads, fp32 and q8, WebGPU',
      () => browser(report),
    ],
    ['training', 'training: lat and PyTorch steps in turn', () => training(report)],
    ['training-other', 'training: LengthDrop and TensorFlow.js', () => otherTrainingRates(report)],
    ['fwdbwd', 'fwd+bwd', () => fwdBwd(report)],
    ['profile', 'training step profile (ORT profiler)', () => trainingProfile(report)],
    ['curve', 'accuracy vs speed-up', () => accuracyCurve(report)],
    ['sst2', 'accuracy vs speed-up on SST-2', () => sst2Curve(report)],
    ['axformer', 'AxFormer pruning on SST-2', () => axformerRuns(report)],
    ['frontier', 'searched frontier: measured dev-set speed-up', () => frontierSpeed(report)],
    ['pooling', 'trainable pooling on long inputs: speed', () => poolingSpeed(report)],
    ['pooling-accuracy', 'trainable pooling on long inputs: accuracy', () => poolingAccuracy(report)],
    [
      'pooling-qa',
      'trainable pooling: span QA over long contexts with trained models',
      () => poolingQa(report),
    ],
  ];
  // --out keeps runs that go on side by side from writing over each other's report.
  const out = flag('out');
  const file = out ? resolve(out) : join(repo, only ? 'bench/results/partial.md' : 'bench/results/latest.md');
  mkdirSync(dirname(file), { recursive: true });
  for (const [key, title, run] of sections) {
    if (only && !only.includes(key)) continue;
    console.log(`\n${title}`);
    await run();
    report.save(file); // after every section, so a failure keeps what was measured
  }
  console.log(`\nwritten ${file}`);
}

await main();
