/// <reference lib="webworker" />
/**
 * Runs the anytime graph off the main thread: the page stays responsive while ORT works.
 * Messages: {type: 'load', manifest, model} → {type: 'loaded', backend}; {type: 'run', id, text,
 * ratios} → {type: 'result', id, …} or {type: 'error', id, message}.
 */
import { type BundleManifest, WordPieceTokenizer } from '@lat/core';
import { type AnytimeModel, createAnytimeModel } from '@lat/layers';
import { bestSpan } from '@lat/qa';
import { createWebRuntime, hasWebGpu } from '@lat/runtime-web';
import { configFromManifest } from './bundle.js';

let model: AnytimeModel | undefined;
let tokenizer: WordPieceTokenizer | undefined;
let maxLength = 128;
let span = false;

async function load(manifest: BundleManifest, bytes: Uint8Array) {
  await model?.release();
  const config = configFromManifest(manifest);
  tokenizer = new WordPieceTokenizer(manifest.tokenizer.vocab, {
    doLowerCase: manifest.tokenizer.doLowerCase,
    ...(manifest.tokenizer.stripAccents !== undefined
      ? { stripAccents: manifest.tokenizer.stripAccents }
      : {}),
    clsToken: manifest.tokenizer.clsToken,
    sepToken: manifest.tokenizer.sepToken,
    padToken: manifest.tokenizer.padToken,
    unkToken: manifest.tokenizer.unkToken,
  });
  maxLength = manifest.tokenizer.maxLength;
  span = manifest.task.type === 'span';
  const threads = self.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;
  const runtime = createWebRuntime({
    wasmPaths: new URL('./ort/', self.location.href.replace(/assets\/.*$/, '')).href,
    threads,
  });
  // WebGPU when the browser offers it (falling back to wasm if its session cannot be made).
  let backend = 'wasm';
  if (hasWebGpu()) {
    try {
      model = await createAnytimeModel(runtime, config, new Map(), {
        model: bytes,
        session: { executionProviders: ['webgpu'] },
      });
      backend = 'webgpu';
    } catch {
      model = undefined;
    }
  }
  model ??= await createAnytimeModel(runtime, config, new Map(), {
    model: bytes,
    session: { executionProviders: ['wasm'] },
  });
  return { backend: `${backend}${threads > 1 ? `, ${threads} threads` : ''}` };
}

async function run(text: string, ratios: number[] | undefined, context?: string) {
  if (!model || !tokenizer) throw new Error('no model loaded');
  // Span (QA) bundles: [CLS] question [SEP] context [SEP], the context truncated to fit.
  const enc = span
    ? tokenizer.encode(text, context ?? '', { maxLength, truncation: 'only_second' })
    : tokenizer.encode(text, undefined, { maxLength });
  const n = enc.ids.length;
  const x = {
    inputIds: BigInt64Array.from(enc.ids, BigInt),
    attentionMask: new BigInt64Array(n).fill(1n),
    tokenTypeIds: BigInt64Array.from(enc.typeIds, BigInt),
    batch: 1,
  };
  const spec = ratios ? { form: 'ratio' as const, ratios } : undefined;
  await model.run(x, spec); // warm: the first call includes kernel set-up
  const t0 = performance.now();
  const r = await model.run(x, spec);
  const latencyMs = performance.now() - t0;
  const answer =
    span && r.startLogits && r.endLogits
      ? bestSpan(r.startLogits, r.endLogits, enc.sequenceIds, enc.offsets)
      : undefined;
  return {
    tokens: enc.tokens,
    logits: Array.from(r.logits ?? []),
    ...(answer ? { answer } : {}),
    keptPositions: r.keptPositions.map((l) => l[0]!),
    counts: r.keepCounts[0]!,
    latencyMs,
  };
}

self.onmessage = async (e: MessageEvent) => {
  const msg = e.data;
  try {
    if (msg.type === 'load') self.postMessage({ type: 'loaded', ...(await load(msg.manifest, msg.model)) });
    else if (msg.type === 'run')
      self.postMessage({ type: 'result', id: msg.id, ...(await run(msg.text, msg.ratios, msg.context)) });
  } catch (err) {
    self.postMessage({
      type: 'error',
      id: msg.id,
      message: err instanceof Error ? err.message : String(err),
    });
  }
};
