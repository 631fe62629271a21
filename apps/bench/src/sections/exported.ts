/**
 * Baselines from the standard exporter: the same weights exported by `torch.onnx.export`
 * (`torch_export.py`, Debian's python3-torch) and timed in onnxruntime-node and in transformers.js
 * next to lat's own plain graph and lat's anytime graph at full length; and the transformers.js q8
 * anchor — that export quantised the way transformers.js quantises (`model_quantized.onnx`) — next
 * to lat's int8 graph. Every graph is kept open and run in turn (`alternating`), so each ratio
 * compares runs made under the same load.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hostTensor, Rng, type Runtime, type StateDict, toModelProto, WordPieceTokenizer } from '@lat/core';
import { writeSafetensors } from '@lat/core/node';
import {
  type AnytimeModel,
  anytimeFeeds,
  buildAnytimeGraph,
  createAnytimeModel,
  createRandomWeights,
  type EncodedBatch,
  encoderFeeds,
  type Int8Weights,
  type ModelConfig,
  splitFullLength,
} from '@lat/layers';
import { fmt, type Report } from '../report.js';
import {
  alternating,
  batchOf,
  chosen,
  configOf,
  cpuMs,
  python,
  quick,
  roundMs,
  roundRatio,
  type Size,
  type Turns,
  threads,
  turns,
} from '../setup.js';
import {
  benchTexts,
  benchVocab,
  createTransformersJsModel,
  encodeTexts,
  loadTransformersJs,
  type TextClassifier,
  writeHfModelFiles,
} from '../transformers-js.js';
import { checkSameLogits } from './inference.js';

/**
 * Random biases and LayerNorm parameters (createRandomWeights leaves them 0 and 1), so the
 * logits check below would catch a bias or a LayerNorm read from the wrong place.
 */
export function perturb(w: StateDict, seed: number) {
  const rng = new Rng(seed);
  for (const [name, t] of w)
    if (name.endsWith('.bias') || name.includes('LayerNorm'))
      for (let i = 0; i < t.data.length; i++) t.data[i]! += rng.normal() * 0.05;
}

/** Why the exporter cannot run here, or undefined when it can. */
export function exporterMissing(): string | undefined {
  const r = spawnSync(python, ['-c', 'import torch, onnx'], { encoding: 'utf8' });
  if (r.error) return `${python} not found (install Debian's python3-torch)`;
  return r.status === 0 ? undefined : r.stderr.trim().split('\n').at(-1);
}

/** A q8 graph for torch_export.py to write: lat's weight layout, and whether the embedding tables are uint8. */
export interface Q8Export {
  out: string;
  weights: Int8Weights;
  embeddings: boolean;
}

/**
 * torch.onnx.export of `w` into `dir/onnx/model.onnx`, and (`q8` true) its transformers.js-style
 * q8 graph, or the q8 graphs listed.
 */
export function exportWithTorch(dir: string, c: ModelConfig, w: StateDict, q8: boolean | Q8Export[] = true) {
  writeSafetensors(join(dir, 'weights.safetensors'), w);
  const job = {
    threads,
    config: {
      vocab: c.vocabSize,
      hidden: c.hiddenSize,
      layers: c.numLayers,
      heads: c.numHeads,
      ffn: c.intermediateSize,
      positions: c.maxPositions,
      types: c.typeVocabSize,
      eps: c.layerNormEps,
      labels: c.numLabels,
    },
    weights: join(dir, 'weights.safetensors'),
    out: join(dir, 'onnx/model.onnx'),
    ...(q8 ? { q8: q8 === true ? join(dir, 'onnx/model_quantized.onnx') : q8 } : {}),
  };
  const r = spawnSync(python, [join(import.meta.dirname, '../../torch_export.py'), JSON.stringify(job)], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`torch_export.py failed: ${r.stderr.trim().split('\n').at(-1)}`);
  return JSON.parse(r.stdout) as { torch: string };
}

/**
 * The size's random weights (biases and LayerNorms randomised too) and their torch export (with
 * `q8`, its transformers.js-style q8 graph too) in `<root>/model/onnx/`, a fresh temporary root.
 */
function exportedWeights(c: ModelConfig, q8: boolean) {
  const w = createRandomWeights(c, 1);
  perturb(w, 2);
  const root = mkdtempSync(join(tmpdir(), 'lat-bench-exported-'));
  const dir = join(root, 'model');
  mkdirSync(join(dir, 'onnx'), { recursive: true });
  const { torch } = exportWithTorch(dir, c, w, q8);
  return { w, root, dir, torch };
}

/** One ORT session over a graph file with BERT's standard I/O, run on an encoded batch. */
export async function openGraph(runtime: Runtime, path: string, sessionThreads = threads) {
  const session = await runtime.createSession(readFileSync(path), { threads: sessionThreads });
  return {
    async run(x: EncodedBatch): Promise<Float32Array> {
      const dims = [x.batch, x.inputIds.length / x.batch];
      const out = await session.run({
        input_ids: hostTensor('int64', dims, x.inputIds),
        attention_mask: hostTensor('int64', dims, x.attentionMask),
        token_type_ids: hostTensor('int64', dims, x.tokenTypeIds ?? new BigInt64Array(x.inputIds.length)),
      });
      return out['logits']!.data as Float32Array;
    },
    release: () => session.release(),
  };
}

export const maxDiff = (a: Float32Array, b: Float32Array) =>
  Math.max(...Array.from(a, (v, i) => Math.abs(v - b[i]!)));

/** transformers.js when it and the exporter (PyTorch) are both here; else says why in the report. */
export async function exporterAndTransformersJs(report: Report) {
  const missing = exporterMissing();
  const tjs = await loadTransformersJs();
  if (!missing && typeof tjs !== 'string') return tjs;
  const why = missing ? `PyTorch is not available (${missing})` : tjs;
  console.log(`  skipped: ${why}`);
  report.push(`Skipped: ${why}.\n`);
  return undefined;
}

export async function exportedBaselines(
  report: Report,
  runtime: Runtime,
  which: Size[],
  shapes: [number, number][],
  q8Shapes: [number, number][],
  { rounds, runs }: Turns = turns('exported'),
) {
  report.heading(
    `Baselines from the standard exporter (torch.onnx.export), onnxruntime-node and transformers.js, ${threads} threads, sessions not spinning, ${rounds} rounds of ${runs} steps in turn, median (min–max) over rounds`,
  );
  const tjs = await exporterAndTransformersJs(report);
  if (!tjs) return;
  report.push(
    `The same random weights (biases and LayerNorms randomised too) as five graphs: **exported** — lat's weights loaded into a PyTorch BERT written as Hugging Face's modeling_bert computes it and exported by torch.onnx.export (opset 14, \`apps/bench/torch_export.py\`), run by onnxruntime-node with all graph optimisations; **lat plain** — lat's own BERT graph without selection ops; **lat full** — lat's anytime graph at full length; **transformers.js** (@huggingface/transformers ${tjs.env.version}, offline, CPU) running the exported graph from a local model directory, timed from text, next to **lat full from text** (lat's tokenizer, then the anytime graph). q8: the exported graph quantised the way transformers.js's quantize.py makes \`model_quantized.onnx\` (onnxruntime's dynamic IntegerOps quantiser: int8 weights per tensor, uint8 activations at run time, uint8 embedding tables; written by \`torch_export.py\` with the onnx package since python onnxruntime is absent here), run by onnxruntime-node ("exported q8") and by transformers.js (\`dtype: 'q8'\`), next to lat's q8 anytime graph (per-channel 7-bit weights) at full length. Every graph's logits are checked against lat's plain graph before timing (fp32 within 1e-3; q8 printed). Every session runs without spinning, and within each round every graph runs once per step in a fresh seeded random order, never twice in a row. Each cell: ratio of medians, then of fastest runs, as median (min–max) over rounds; ms: median, fastest.\n`,
  );
  report.table(
    'model | batch × seq | exported ms | lat plain / exported | lat full / exported | transformers.js ms (from text) | lat full from text / transformers.js | exported q8 ms | lat q8 full / exported q8 | lat q8 from text / transformers.js q8 | lat fp32 full / lat q8 full',
  );
  for (const s of which.filter(chosen)) {
    const c = configOf(s);
    const { w, root, dir, torch } = exportedWeights(c, true);
    console.log(`  ${s.name}: exported with torch ${torch}`);
    const tok = new WordPieceTokenizer(benchVocab(c.vocabSize));
    writeHfModelFiles(dir, c, tok);
    const exported = await openGraph(runtime, join(dir, 'onnx/model.onnx'));
    const exportedQ8 = await openGraph(runtime, join(dir, 'onnx/model_quantized.onnx'));
    const open = (dtype: 'fp32' | 'q8', selection: boolean) =>
      createAnytimeModel(runtime, c, w, { dtype, selection, keptPositions: false, session: { threads } });
    const lat: Record<string, AnytimeModel> = {
      plain: await open('fp32', false),
      full: await open('fp32', true),
      q8: await open('q8', true),
    };
    const tjsModels: Record<string, TextClassifier> = {
      fp32: await createTransformersJsModel(tjs, root, 'model', threads),
      q8: await createTransformersJsModel(tjs, root, 'model', threads, 'q8'),
    };
    for (const [batch, seq] of shapes) {
      if (s.name === 'bert-base' && batch * seq > 1024 && quick) continue;
      const withQ8 = q8Shapes.some(([b, n]) => b === batch && n === seq);
      const x = batchOf(batch, seq);
      const texts = benchTexts(batch, seq);
      const fromText = () => encodeTexts(texts, tok, seq);
      // Same weights, same token ids: the exported graph and transformers.js against lat's plain graph.
      const reference = (await lat['plain']!.run(fromText())).logits!;
      const exportedLogits = await exported.run(fromText());
      console.log(
        `  ${s.name} ${batch} × ${seq}: exported vs lat plain, max |diff| ${maxDiff(exportedLogits, reference).toExponential(2)}`,
      );
      if (!(maxDiff(exportedLogits, reference) < 1e-3))
        throw new Error(`the exported graph's logits differ from lat's plain graph (${s.name})`);
      checkSameLogits(s.name, await tjsModels['fp32']!.run(texts, seq), reference);
      if (withQ8) {
        // transformers.js q8 runs the exported q8 graph; lat's q8 rounds its weights otherwise.
        const q8 = {
          'exported q8': await exportedQ8.run(fromText()),
          'transformers.js q8': await tjsModels['q8']!.run(texts, seq),
          'lat q8': (await lat['q8']!.run(fromText())).logits!,
        };
        const diffs = Object.entries(q8).map(([k, v]) => `${k} ${maxDiff(v, reference).toExponential(2)}`);
        console.log(`  q8 logits vs fp32, max |diff|: ${diffs.join(', ')}`);
        if (!(maxDiff(q8['transformers.js q8'], q8['exported q8']) < 1e-3))
          throw new Error(`transformers.js q8 does not run the exported q8 graph (${s.name})`);
      }
      const ms = await alternating(
        {
          exported: () => exported.run(x),
          plain: () => lat['plain']!.run(x),
          full: () => lat['full']!.run(x),
          tjs: () => tjsModels['fp32']!.run(texts, seq),
          fullText: () => lat['full']!.run(fromText()),
          ...(withQ8
            ? {
                exportedQ8: () => exportedQ8.run(x),
                q8: () => lat['q8']!.run(x),
                tjsQ8: () => tjsModels['q8']!.run(texts, seq),
                q8Text: () => lat['q8']!.run(fromText()),
              }
            : {}),
        },
        rounds,
        runs,
      );
      const q8Cells = withQ8
        ? [
            roundMs(ms, 'exportedQ8'),
            roundRatio(ms, 'q8', 'exportedQ8'),
            roundRatio(ms, 'q8Text', 'tjsQ8'),
            roundRatio(ms, 'full', 'q8'),
          ]
        : [fmt(undefined), fmt(undefined), fmt(undefined), fmt(undefined)];
      const line = `| ${s.name} | ${batch} × ${seq} | ${roundMs(ms, 'exported')} | ${roundRatio(ms, 'plain', 'exported')} | ${roundRatio(ms, 'full', 'exported')} | ${roundMs(ms, 'tjs')} | ${roundRatio(ms, 'fullText', 'tjs')} | ${q8Cells.join(' | ')} |`;
      report.push(line);
      console.log(line);
    }
    await Promise.all([
      exported.release(),
      exportedQ8.release(),
      ...Object.values(lat).map((m) => m.release()),
      ...Object.values(tjsModels).map((m) => m.release()),
    ]);
    rmSync(root, { recursive: true, force: true });
  }
}

/**
 * lat's fixed cost at full length against the exported graph, on the clock this shared machine
 * allows for it: CPU time per run at one thread (every session single-threaded, so no thread pool
 * spins between runs), every graph run once per step in a random order (`alternating`). Next to
 * lat's model (its full-length session): the same graph run with ready feeds (what lat's host
 * side adds), the anytime graph in one session with its If (what a bundle gives any ORT), the
 * exported graph in a second session (how far two sessions of one graph differ: the noise floor),
 * and the q8 anchor against lat's q8 graphs.
 */
export async function fullLengthOverhead(
  report: Report,
  runtime: Runtime,
  which: Size[],
  shapes: [number, number][],
  { rounds, runs }: Turns = turns('overhead', quick ? 4 : 6, quick ? 5 : 10),
) {
  report.heading(
    `lat at full length vs the exported graph: CPU time per run, onnxruntime-node, 1 thread, ${rounds} rounds of ${runs} alternating runs, median (min–max) over rounds`,
  );
  const missing = exporterMissing();
  if (missing) {
    console.log(`  skipped: PyTorch is not available (${missing})`);
    report.push(`Skipped: PyTorch is not available (${missing}).\n`);
    return;
  }
  report.push(
    "The process CPU time of each run (user + system) with every session at one intra-op thread: under other processes' load a run takes longer in wall time but does the same work, so fixed costs of a few percent stay measurable. Within each round every graph runs once per step in a fresh random order. Graphs: **exported** (and **exported again**: a second session of the same graph, the noise floor of a ratio between two sessions); **lat plain**: lat's own BERT graph; **lat full**: lat's anytime model at full length (`createAnytimeModel(...).run`, which runs the full-length branch's own session); **kept positions**: the same with the kept-position outputs bundles export; **graph only**: that session run with ready feeds (the difference is lat's host side: feeds, keep counts, reading the outputs); **one If session**: the anytime graph as a bundle holds it, run in one session with its If; q8: the transformers.js-style q8 export (**exported q8**) against lat's q8 anytime model at full length and lat's plain q8 graph. Last two columns: every layer keeping half of the tokens (r = 0.5): lat's reducing session (every layer's selection ops, no If) run with ready feeds against the graph with its Ifs in one session, and lat's model (`run(x, ratios)`: keep counts from the ratios, then that session) against the same session with ready feeds. Each cell: ratio of medians, then of fastest runs, as median (min–max) over rounds.\n",
  );
  report.table(
    'model | batch × seq | exported CPU ms (median, fastest) | exported again / exported | lat plain / exported | lat full / exported | lat full, kept positions / exported | graph only / exported | one If session / exported | exported q8 CPU ms | lat q8 full / exported q8 | lat q8 plain / exported q8 | r = 0.5: graph only / one If session | r = 0.5: lat / graph only',
  );
  for (const s of which.filter(chosen)) {
    const c = configOf(s);
    const { w, root, dir } = exportedWeights(c, true);
    const graph = (file: string) => openGraph(runtime, join(dir, 'onnx', file), 1);
    const exported = {
      exported: await graph('model.onnx'),
      again: await graph('model.onnx'),
      q8: await graph('model_quantized.onnx'),
    };
    const open = (o: { selection?: boolean; dtype?: 'q8'; keptPositions?: boolean }) =>
      createAnytimeModel(runtime, c, w, { keptPositions: false, ...o, session: { threads: 1 } });
    const lat: Record<string, AnytimeModel> = {
      plain: await open({ selection: false }),
      full: await open({}),
      kept: await open({ keptPositions: true }),
      q8: await open({ dtype: 'q8' }),
      q8plain: await open({ selection: false, dtype: 'q8' }),
    };
    const anytime = toModelProto(buildAnytimeGraph(c, w, { keptPositions: false }));
    const split = splitFullLength(anytime, c.numLayers)!;
    const sessions = {
      graphOnly: await runtime.createSession(split.full, { threads: 1 }),
      reducing: await runtime.createSession(split.reducing, { threads: 1 }),
      oneIf: await runtime.createSession(anytime, { threads: 1 }),
    };
    for (const [batch, seq] of shapes) {
      const x = batchOf(batch, seq);
      const fullFeeds = encoderFeeds(c, x);
      const ifFeeds = anytimeFeeds(c, x);
      const half = { form: 'ratio' as const, ratios: new Array<number>(c.numLayers).fill(0.5) };
      const halfFeeds = anytimeFeeds(c, x, half);
      const ms = await alternating(
        {
          exported: () => exported.exported.run(x),
          again: () => exported.again.run(x),
          plain: () => lat['plain']!.run(x),
          full: () => lat['full']!.run(x),
          kept: () => lat['kept']!.run(x),
          graphOnly: () => sessions.graphOnly.run(fullFeeds),
          oneIf: () => sessions.oneIf.run(ifFeeds),
          exportedQ8: () => exported.q8.run(x),
          q8: () => lat['q8']!.run(x),
          q8plain: () => lat['q8plain']!.run(x),
          half: () => lat['full']!.run(x, half),
          halfGraphOnly: () => sessions.reducing.run(halfFeeds),
          oneIfHalf: () => sessions.oneIf.run(halfFeeds),
        },
        rounds,
        runs,
        cpuMs,
      );
      const line = `| ${s.name} | ${batch} × ${seq} | ${roundMs(ms, 'exported')} | ${['again', 'plain', 'full', 'kept', 'graphOnly', 'oneIf'].map((k) => roundRatio(ms, k, 'exported')).join(' | ')} | ${roundMs(ms, 'exportedQ8')} | ${roundRatio(ms, 'q8', 'exportedQ8')} | ${roundRatio(ms, 'q8plain', 'exportedQ8')} | ${roundRatio(ms, 'halfGraphOnly', 'oneIfHalf')} | ${roundRatio(ms, 'half', 'halfGraphOnly')} |`;
      report.push(line);
      console.log(line);
    }
    await Promise.all([
      ...Object.values(exported).map((g) => g.release()),
      ...Object.values(sessions).map((g) => g.release()),
      ...Object.values(lat).map((m) => m.release()),
    ]);
    rmSync(root, { recursive: true, force: true });
  }
}
