/// <reference lib="webworker" />
/**
 * Runs the bundle through @lat/pipeline off the main thread: the page stays responsive while ORT
 * works. Messages: {type: 'load', manifest, model} → {type: 'loaded', backend}; {type: 'run', id,
 * text, context?, ratios?} → {type: 'result', id, …}; AdapLeR bundles: {type: 'batch', id, texts}
 * → {type: 'batch', id, texts, report} (kept counts over the texts, run as one batch); failures →
 * {type: 'error', id, message}.
 */
import type { BundleManifest } from '@lat/core';
import { lengthReport } from '@lat/layers';
import {
  type PipelineOptions,
  pipeline,
  type QuestionAnsweringPipeline,
  type TextClassificationPipeline,
} from '@lat/pipeline';
import { createWebRuntime, hasWebGpu } from '@lat/runtime-web';

let model: TextClassificationPipeline | QuestionAnsweringPipeline | undefined;

async function load(manifest: BundleManifest, bytes: Uint8Array) {
  await model?.dispose();
  model = undefined;
  const threads = self.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;
  const runtime = createWebRuntime({
    wasmPaths: new URL('./ort/', self.location.href.replace(/assets\/.*$/, '')).href,
    threads,
  });
  const open = (executionProviders: string[]) => {
    const options: PipelineOptions = { runtime, session: { executionProviders } };
    const source = { manifest, model: bytes };
    return manifest.task.type === 'span'
      ? pipeline('question-answering', source, options)
      : pipeline('text-classification', source, options);
  };
  // WebGPU when the browser offers it (falling back to wasm if its session cannot be made).
  let backend = 'wasm';
  if (hasWebGpu()) {
    try {
      model = await open(['webgpu']);
      backend = 'webgpu';
    } catch {
      model = undefined;
    }
  }
  model ??= await open(['wasm']);
  return { backend: `${backend}${threads > 1 ? `, ${threads} threads` : ''}` };
}

async function run(text: string, ratios: number[] | undefined, context?: string) {
  const m = model;
  if (!m) throw new Error('no model loaded');
  const options = ratios ? { ratios } : {};
  // Twice: the first call includes kernel set-up, the second is the latency shown.
  const once = async () => {
    if (m.task === 'question-answering') {
      const a = await m({ question: text, context: context ?? '' }, options);
      return {
        tokens: a.tokens,
        logits: [],
        answer: { start: a.start, end: a.end, score: a.score },
        windows: a.windows,
        window: a.window,
        keptPositions: a.keptPositions,
        counts: a.lengths,
        macs: a.macs,
        fullMacs: a.fullMacs,
      };
    }
    const [r] = await m(text, options);
    return {
      tokens: r!.tokens,
      logits: r!.logits,
      probabilities: r!.probabilities,
      keptPositions: r!.keptPositions,
      counts: r!.lengths,
      macs: r!.macs,
      fullMacs: r!.fullMacs,
    };
  };
  await once();
  const t0 = performance.now();
  const result = await once();
  return { ...result, latencyMs: performance.now() - t0 };
}

/** The texts in one batched call: each input's kept counts per layer, summarised per layer. */
async function batch(texts: string[]) {
  const m = model;
  if (m?.task !== 'text-classification') throw new Error('no classification model loaded');
  const results = await m(texts);
  const report = lengthReport(
    m.config,
    results.map((r) => r.tokens.length),
    results.map((r) => r.lengths),
  );
  return { texts, counts: results.map((r) => r.lengths), report };
}

// One message at a time: a batch and a run never share the session at once.
let queue = Promise.resolve();
self.onmessage = (e: MessageEvent) => {
  queue = queue.then(() => handle(e.data));
};

async function handle(msg: MessageEvent['data']) {
  try {
    if (msg.type === 'load') self.postMessage({ type: 'loaded', ...(await load(msg.manifest, msg.model)) });
    else if (msg.type === 'run')
      self.postMessage({ type: 'result', id: msg.id, ...(await run(msg.text, msg.ratios, msg.context)) });
    else if (msg.type === 'batch')
      self.postMessage({ type: 'batch', id: msg.id, ...(await batch(msg.texts)) });
  } catch (err) {
    self.postMessage({
      type: 'error',
      id: msg.id,
      message: err instanceof Error ? err.message : String(err),
    });
  }
}
