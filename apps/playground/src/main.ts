import './style.css';
import { describeLayers } from '@lat/core';
import type { FrontierFile } from '@lat/search';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { LengthReport } from '@lat/layers';
import { bundleFromFiles, fetchBundle, type LoadedBundle } from '@lat/pipeline';
import { openCompare } from './compare.js';
import { formatMacs } from './format.js';
import { histogramView } from './histogram.js';
import { keptRow } from './kept.js';

interface RunResult {
  /** The input's tokens (span bundles: those of the window the answer came from). */
  tokens: string[];
  logits: number[];
  probabilities?: number[];
  /** Span bundles: the best answer's character range in the context, and the windows it was split into. */
  answer?: { start: number; end: number; score: number };
  windows?: number;
  window?: number;
  keptPositions: number[][];
  counts: number[];
  macs: number;
  fullMacs: number;
  latencyMs: number;
}

/** An AdapLeR bundle run over a batch of inputs: each one's kept counts per layer, summarised. */
interface BatchResult {
  texts: string[];
  counts: number[][];
  report: LengthReport;
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
let bundle: LoadedBundle | undefined;
let frontier: FrontierFile | undefined;
let chart: uPlot | undefined;
let runId = 0;
const pending = new Map<number, (r: RunResult) => void>();
let batchId = 0;
const pendingBatches = new Map<number, (r: BatchResult) => void>();

/** State the browser test reads: the last result and whether a run is in flight. */
const state = {
  ready: false,
  busy: false,
  /** With the text and context it was computed for, so a test can wait for the run it caused. */
  last: undefined as (RunResult & { text: string; context: string; ratios?: number[] }) | undefined,
  /** AdapLeR bundles: the last batch's texts, kept counts [input][layer] and histogram. */
  batch: undefined as BatchResult | undefined,
};
(window as unknown as { lat: typeof state }).lat = state;

function showError(e: unknown) {
  const box = $('error');
  box.hidden = false;
  box.textContent = e instanceof Error ? e.message : String(e);
  state.busy = false;
}

worker.onmessage = (e: MessageEvent) => {
  const m = e.data;
  if (m.type === 'loaded') {
    $('backend').textContent = `onnxruntime-web · ${m.backend}`;
    state.ready = true;
    void update();
    void updateBatch();
  } else if (m.type === 'result') pending.get(m.id)?.(m);
  else if (m.type === 'batch') pendingBatches.get(m.id)?.(m);
  else if (m.type === 'error') showError(m.message);
};
worker.onerror = (e) => showError(`the worker failed: ${e.message}`);

async function use(b: LoadedBundle) {
  bundle = b;
  state.ready = false;
  $('error').hidden = true;
  frontier = b.manifest.frontier as FrontierFile | undefined;
  const adapler = b.manifest.model.adapler;
  $('bundle-name').textContent =
    `${b.manifest.model.name} · ${b.manifest.model.numLayers} layers × ${b.manifest.model.hiddenSize} · ${b.manifest.task.type}${adapler ? ' · AdapLeR' : ''}`;
  showStructure(b);
  const isSpan = b.manifest.task.type === 'span';
  $('context').hidden = !isSpan;
  $('answer').hidden = !isSpan;
  $<HTMLTextAreaElement>('text').placeholder = isSpan ? 'question' : 'text to classify';
  const examples = b.manifest.examples ?? [];
  if (!$<HTMLTextAreaElement>('text').value) $<HTMLTextAreaElement>('text').value = examples[0] ?? '';
  $('examples').replaceChildren(
    ...examples.map((t) => {
      const btn = document.createElement('button');
      btn.textContent = t.length > 40 ? `${t.slice(0, 40)}…` : t;
      btn.onclick = () => {
        $<HTMLTextAreaElement>('text').value = t;
        void update();
      };
      return btn;
    }),
  );
  // AdapLeR: no budget to pick (each input keeps its own tokens); a batch shows how counts spread.
  $('slider').hidden = Boolean(adapler);
  $('batch-section').hidden = !adapler;
  state.batch = undefined;
  $('histogram').replaceChildren();
  if (adapler && !$<HTMLTextAreaElement>('batch').value)
    $<HTMLTextAreaElement>('batch').value = (
      examples.length ? examples : [$<HTMLTextAreaElement>('text').value]
    ).join('\n');
  // Slider: 0 = full length, then the frontier's points from the most to the least expensive.
  const points = frontier ? [...frontier.points].sort((a, b) => b.costRatio - a.costRatio) : [];
  const slider = $<HTMLInputElement>('slider');
  slider.max = String(points.length);
  slider.value = '0';
  drawChart(points);
  worker.postMessage({ type: 'load', manifest: b.manifest, model: b.model }, [b.model.buffer]);
}

/** An AxFormer-pruned bundle: what is left of each layer (the graph has it built in). */
function showStructure(b: LoadedBundle) {
  const { layers, numHeads } = b.manifest.model;
  const box = $('structure');
  box.hidden = !layers;
  if (!layers) return;
  const lines = describeLayers(layers, numHeads).map((d, i) => {
    const li = document.createElement('li');
    li.dataset['layer'] = String(i);
    li.textContent = `layer ${i + 1}: ${d}`;
    return li;
  });
  const title = document.createElement('span');
  title.className = 'k';
  title.textContent = 'pruned (AxFormer)';
  const list = document.createElement('ul');
  list.append(...lines);
  box.replaceChildren(title, list);
}

function currentPoint() {
  const points = frontier ? [...frontier.points].sort((a, b) => b.costRatio - a.costRatio) : [];
  const i = Number($<HTMLInputElement>('slider').value);
  return i === 0 ? undefined : points[i - 1];
}

function drawChart(points: FrontierFile['points']) {
  chart?.destroy();
  $('chart').replaceChildren();
  if (bundle?.manifest.model.adapler) {
    $('chart').textContent =
      'AdapLeR picks each input’s lengths itself, so this bundle has no frontier of lengths (train at another φ for another trade-off)';
    return;
  }
  if (!frontier || points.length === 0) {
    $('chart').textContent = 'this bundle has no frontier (run `lat search` before `lat export`)';
    return;
  }
  const sorted = [...points].sort((a, b) => a.costRatio - b.costRatio);
  const cur = currentPoint();
  chart = new uPlot(
    {
      width: 900,
      height: 260,
      title: `${frontier.metric.name} vs cost (fraction of the full model's ${frontier.costUnit})`,
      scales: { x: { time: false } },
      series: [
        { label: 'cost' },
        { label: frontier.metric.name, stroke: '#1f5fbf', points: { size: 6 } },
        { label: 'current', stroke: '#d33', width: 0, points: { size: 12, fill: '#d33' } },
      ],
    },
    [
      sorted.map((p) => p.costRatio),
      sorted.map((p) => p.metric),
      sorted.map((p) => (p === cur ? p.metric : null)),
    ],
    $('chart'),
  );
}

async function update() {
  if (!bundle || !state.ready) return;
  const point = currentPoint();
  const adapler = bundle.manifest.model.adapler;
  $('budget-label').textContent = adapler
    ? `AdapLeR: each input keeps its own tokens per layer (η ${adapler.eta.map((e) => e.toFixed(3)).join(', ')})`
    : point
      ? `${(point.costRatio * 100).toFixed(1)}% of the full cost · ${frontier!.metric.name} ${point.metric.toFixed(3)}`
      : 'full length';
  if (frontier) drawChart(frontier.points);
  const ratios = point ? (frontier!.lengthForm === 'ratio' ? point.lengths : undefined) : undefined;
  const id = ++runId;
  const text = $<HTMLTextAreaElement>('text').value;
  const context = $<HTMLTextAreaElement>('context').value;
  if (bundle.manifest.task.type === 'span' && (!text.trim() || !context.trim())) {
    $('prediction').textContent = 'ask a question about the context';
    return;
  }
  state.busy = true;
  const result = await new Promise<RunResult>((resolve) => {
    pending.set(id, resolve);
    worker.postMessage({ type: 'run', id, text, context, ratios });
  });
  pending.delete(id);
  if (id !== runId) return; // a newer run superseded this one
  render(result);
  state.last = { ...result, text, context, ...(ratios ? { ratios } : {}) };
  state.busy = false;
}

function render(r: RunResult) {
  const m = bundle!.manifest;
  $('error').hidden = true;
  if (m.task.type === 'classification') {
    const probs = r.probabilities ?? [];
    const best = probs.indexOf(Math.max(...probs));
    $('prediction').textContent = m.task.labels[best] ?? String(best);
    $('probs').textContent = probs.map((p, i) => `${m.task.labels[i]} ${(p * 100).toFixed(1)}%`).join(' · ');
  } else if (m.task.type === 'span') {
    const context = $<HTMLTextAreaElement>('context').value;
    const a = r.answer && r.answer.start >= 0 ? r.answer : undefined;
    $('prediction').textContent = a ? context.slice(a.start, a.end) : '(no answer in the context)';
    const windows =
      r.windows && r.windows > 1 ? ` · window ${(r.window ?? 0) + 1} of ${r.windows} shown` : '';
    $('probs').textContent = a ? `score ${a.score.toFixed(2)}${windows}` : '';
    const mark = document.createElement('mark');
    mark.textContent = a ? context.slice(a.start, a.end) : '';
    $('answer').replaceChildren(
      context.slice(0, a?.start ?? context.length),
      ...(a ? [mark, context.slice(a.end)] : []),
    );
  } else {
    $('prediction').textContent = r.logits[0]?.toFixed(3) ?? '–';
    $('probs').textContent = '';
  }
  $('latency').textContent = `${r.latencyMs.toFixed(2)} ms`;
  $('macs').textContent = `${formatMacs(r.macs)} (${((r.macs / r.fullMacs) * 100).toFixed(0)}% of full)`;
  const rows = r.keptPositions.map((kept, i) =>
    keptRow(`layer ${i + 1} · ${kept.length}`, r.tokens, kept, { layer: String(i) }),
  );
  $('layers').replaceChildren(...rows);
}

/** AdapLeR bundles: runs the batch's lines as one batch and draws each layer's kept-count histogram. */
async function updateBatch() {
  if (!bundle?.manifest.model.adapler || !state.ready) return;
  const texts = $<HTMLTextAreaElement>('batch')
    .value.split('\n')
    .map((t) => t.trim())
    .filter(Boolean);
  const id = ++batchId;
  if (texts.length === 0) {
    $('histogram').replaceChildren();
    $('batch-summary').textContent = 'no inputs';
    return;
  }
  const result = await new Promise<BatchResult>((resolve) => {
    pendingBatches.set(id, resolve);
    worker.postMessage({ type: 'batch', id, texts });
  });
  pendingBatches.delete(id);
  if (id !== batchId) return; // a newer batch superseded this one
  const r = result.report;
  $('batch-summary').textContent =
    `${r.inputs} inputs · mean input ${r.meanInputLength.toFixed(1)} tokens · ${r.macsSpeedup.toFixed(2)}× fewer MACs than the full model`;
  $('histogram').replaceChildren(...histogramView(r));
  state.batch = result;
}

$<HTMLInputElement>('slider').addEventListener('input', () => void update());
let typing: ReturnType<typeof setTimeout> | undefined;
for (const id of ['text', 'context']) {
  $<HTMLTextAreaElement>(id).addEventListener('input', () => {
    clearTimeout(typing);
    typing = setTimeout(() => void update(), 200);
  });
}
let typingBatch: ReturnType<typeof setTimeout> | undefined;
$<HTMLTextAreaElement>('batch').addEventListener('input', () => {
  clearTimeout(typingBatch);
  typingBatch = setTimeout(() => void updateBatch(), 200);
});
$<HTMLInputElement>('files').addEventListener('change', (e) => {
  const files = [...((e.target as HTMLInputElement).files ?? [])];
  bundleFromFiles(files).then(use, showError);
});
document.addEventListener('dragover', (e) => e.preventDefault());
document.addEventListener('drop', (e) => {
  e.preventDefault();
  bundleFromFiles([...(e.dataTransfer?.files ?? [])]).then(use, showError);
});

$<HTMLInputElement>('compare-file').addEventListener('change', (e) => {
  const file = (e.target as HTMLInputElement).files?.[0];
  if (file) void openCompare(file.name, () => file.text());
});

const params = new URLSearchParams(location.search);
const report = params.get('compare');
if (report) void openCompare(report, () => fetch(report).then((r) => r.text()));
fetchBundle(params.get('bundle') ?? './bundles/default/').then(use, showError);
