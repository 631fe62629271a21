/**
 * The q8 anchors on the same int8 weights: for each of lat's weight layouts (per-channel 7-bit,
 * per-tensor 8-bit) the torch export of the same random weights is quantised by `torch_export.py`
 * into exactly lat's int8 values and scales (checked byte for byte before timing), with the
 * embedding tables left fp32 as lat leaves them, and run as a plain graph by onnxruntime-node and
 * by transformers.js (`dtype: 'q8'`), next to lat's q8 anytime graph of that layout at full
 * length. All graphs stay open, at one thread each, and run once per step in a random order; each
 * run is timed in process CPU time, which the shared machine's load changes far less than wall
 * time (the `overhead` section's method). With the SST-2 fixtures
 * (`--fixtures`, default ../shared/fixtures), each fixture model's dev accuracy at full length in
 * fp32 and in q8 with either layout: what the default layout is chosen by, next to the speed.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fromBinary } from '@bufbuild/protobuf';
import { onnx, type Runtime, type StateDict, WordPieceTokenizer } from '@lat/core';
import {
  type AnytimeModel,
  createAnytimeModel,
  createRandomWeights,
  type Int8Weights,
  int8WeightLayouts,
  isQuantizedLinear,
  padBatch,
  quantizeWeight,
} from '@lat/layers';
import { loadModelDir, tokenizerOf } from '@lat/layers/node';
import { encodeExamples, getTask, readExamples } from '@lat/train';
import type { Report } from '../report.js';
import {
  alternating,
  batchOf,
  chosen,
  configOf,
  cpuMs,
  flag,
  numFlag,
  quick,
  repo,
  roundMs,
  roundRatio,
  type Size,
} from '../setup.js';
import {
  benchTexts,
  benchVocab,
  createTransformersJsModel,
  encodeTexts,
  type TextClassifier,
  writeHfModelFiles,
} from '../transformers-js.js';
import { exporterAndTransformersJs, exportWithTorch, maxDiff, openGraph, perturb } from './exported.js';

type Graph = Awaited<ReturnType<typeof openGraph>>;

const sha = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const bytesOf = (a: Int8Array | Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** Each int8 weight of lat's q8 graph with its scales, as "values hash / scales hash", sorted. */
function latInt8Weights(w: StateDict, layout: Int8Weights): string[] {
  const out: string[] = [];
  for (const [name, t] of w)
    if (name.endsWith('.weight') && isQuantizedLinear(name) && t.dims.length === 2) {
      const q = quantizeWeight(t, layout);
      out.push(`${sha(bytesOf(q.values))} / ${sha(bytesOf(q.scales))}`);
    }
  return out.sort();
}

/** The same of an anchor graph: every int8 initializer `X_quantized` with its `X_scale`. */
function anchorInt8Weights(path: string): string[] {
  const model = fromBinary(onnx.ModelProtoSchema, readFileSync(path));
  const inits = new Map(model.graph!.initializer.map((t) => [t.name, t]));
  const out: string[] = [];
  for (const t of inits.values())
    if (
      t.dataType === onnx.TensorProto_DataType.INT8 &&
      t.name.endsWith('_quantized') &&
      t.dims.length === 2
    ) {
      const scale = inits.get(t.name.replace(/_quantized$/, '_scale'));
      if (!scale) throw new Error(`${path}: ${t.name} has no scale`);
      out.push(`${sha(t.rawData)} / ${sha(scale.rawData)}`);
    }
  return out.sort();
}

export async function q8Anchors(
  report: Report,
  runtime: Runtime,
  which: Size[],
  shapes: [number, number][],
  rounds = numFlag('q8-rounds', quick ? 3 : 5),
  runs = numFlag('q8-runs', quick ? 5 : 10),
  sessions = numFlag('q8-sessions', quick ? 2 : 3),
  withPerLayer = process.argv.includes('--q8-per-layer-ifs'),
) {
  report.heading(
    `int8 lat vs the same int8 weights as a plain graph (onnxruntime-node, transformers.js): CPU time per run, 1 thread, ${rounds} rounds of ${runs} alternating runs, median (min–max) over rounds`,
  );
  const tjs = await exporterAndTransformersJs(report);
  if (!tjs) return;
  report.push(
    `Load average when it started: ${loadavg()
      .map((l) => l.toFixed(1))
      .join(
        ' ',
      )}. For each int8 weight layout lat offers, the torch export of the same random weights (\`apps/bench/torch_export.py\`) is quantised into **exactly lat's int8 weights** — every MatMul's int8 values and scales equal lat's q8 graph of that layout byte for byte (checked before timing), embedding tables fp32 as in lat's graph — with transformers.js's quantiser's graph form (DynamicQuantizeLinear shared per input → MatMulInteger → Cast → Mul by the scales' product), and run as a plain graph by onnxruntime-node (**exported q8**, from token ids) and by transformers.js (@huggingface/transformers ${tjs.env.version}, \`dtype: 'q8'\`, from text), next to lat's q8 anytime model of that layout at full length (from token ids, and from text with lat's tokenizer). per-tensor-8bit is the layout transformers.js's own q8 models have (which also store their embedding tables as uint8). Every session at one intra-op thread. Two sessions of the same graph differ by up to ±3% here (where ORT places their buffers), so every graph runs in a pool of ${sessions} sessions used in turn, and **exported q8 again** — a second pool of the same anchor — shows the noise floor of a ratio.${withPerLayer ? " Last column: lat's model with `fullLengthBranch: false` (no full-length branch: a full-length run goes through an If per layer)." : ''} Within each round every graph runs once per step in a fresh random order, each run timed in process CPU time (user + system), so the shared machine's load changes the ratios far less than wall time would. Each cell: ratio of medians, then of fastest runs, as median (min–max) over rounds; ms: median, fastest.\n`,
  );
  report.table(
    `model | batch × seq | int8 weights | exported q8 CPU ms | exported q8 again / exported q8 (noise floor) | lat q8 full / exported q8 | transformers.js q8 CPU ms (from text) | lat q8 from text / transformers.js q8 | lat q8 full / lat per-channel-7bit${withPerLayer ? ' | lat q8 full, per-layer Ifs / exported q8' : ''}`,
  );
  for (const s of which.filter(chosen)) {
    const c = configOf(s);
    const w = createRandomWeights(c, 1);
    perturb(w, 2);
    const root = mkdtempSync(join(tmpdir(), 'lat-bench-q8-anchor-'));
    const tok = new WordPieceTokenizer(benchVocab(c.vocabSize));
    for (const layout of int8WeightLayouts) {
      mkdirSync(join(root, layout, 'onnx'), { recursive: true });
      writeHfModelFiles(join(root, layout), c, tok);
    }
    exportWithTorch(
      join(root, int8WeightLayouts[0]!),
      c,
      w,
      int8WeightLayouts.map((layout) => ({
        out: join(root, layout, 'onnx/model_quantized.onnx'),
        weights: layout,
        embeddings: false,
      })),
    );
    // Two sessions of one graph differ by up to ±3% (where ORT places their buffers), so each graph
    // runs in a pool of sessions used in turn, and a second pool of the anchor is the noise floor.
    const pool = async <T extends { release(): Promise<void> }>(open: () => Promise<T>) => {
      const members: T[] = [];
      for (let i = 0; i < sessions; i++) members.push(await open());
      let next = 0;
      return { use: () => members[next++ % sessions]!, members };
    };
    const exported: Record<string, Awaited<ReturnType<typeof pool<Graph>>>> = {};
    const again: Record<string, Awaited<ReturnType<typeof pool<Graph>>>> = {};
    const lat: Record<string, Awaited<ReturnType<typeof pool<AnytimeModel>>>> = {};
    const perLayer: Record<string, Awaited<ReturnType<typeof pool<AnytimeModel>>>> = {};
    const tjsModels: Record<string, TextClassifier> = {};
    for (const layout of int8WeightLayouts) {
      const file = join(root, layout, 'onnx/model_quantized.onnx');
      const [ours, theirs] = [latInt8Weights(w, layout), anchorInt8Weights(file)];
      if (ours.length !== 6 * c.numLayers || ours.join() !== theirs.join())
        throw new Error(`${s.name} ${layout}: the anchor's int8 weights are not lat's`);
      exported[layout] = await pool(() => openGraph(runtime, file, 1));
      again[layout] = await pool(() => openGraph(runtime, file, 1));
      const openLat = (o: { fullLengthBranch?: boolean } = {}) =>
        createAnytimeModel(runtime, c, w, {
          dtype: 'q8',
          int8Weights: layout,
          keptPositions: false,
          session: { threads: 1 },
          ...o,
        });
      lat[layout] = await pool(() => openLat());
      if (withPerLayer) perLayer[layout] = await pool(() => openLat({ fullLengthBranch: false }));
      tjsModels[layout] = await createTransformersJsModel(tjs, root, layout, 1, 'q8');
    }
    console.log(
      `  ${s.name}: the anchors hold lat's int8 weights (${6 * c.numLayers} per layout, byte-equal)`,
    );
    for (const [batch, seq] of shapes) {
      const x = batchOf(batch, seq);
      const texts = benchTexts(batch, seq);
      const fromText = () => encodeTexts(texts, tok, seq);
      // Same integer products; the float ops around them differ in their last bits, which can move
      // an activation across a rounding boundary of the next quantisation by one step: ≤ 1e-4 of
      // the logits' spread at bert-tiny/mini, up to 2% after bert-base's 12 random layers.
      for (const layout of int8WeightLayouts) {
        const ours = (await lat[layout]!.members[0]!.run(fromText())).logits!;
        const spread = Math.max(...ours) - Math.min(...ours);
        const diffs = [
          maxDiff(await exported[layout]!.members[0]!.run(fromText()), ours),
          maxDiff(await tjsModels[layout]!.run(texts, seq), ours),
        ];
        console.log(
          `  ${s.name} ${batch} × ${seq} ${layout}: exported q8 / transformers.js q8 vs lat q8, max |diff| ${diffs.map((d) => d.toExponential(2)).join(' / ')} (logits' spread ${spread.toFixed(2)})`,
        );
        if (!diffs.every((d) => d < 0.05 * spread))
          throw new Error(`${s.name} ${layout}: the anchors' logits differ from lat's`);
      }
      const runners: Record<string, () => Promise<unknown>> = {};
      for (const layout of int8WeightLayouts) {
        runners[`exported ${layout}`] = () => exported[layout]!.use().run(x);
        runners[`again ${layout}`] = () => again[layout]!.use().run(x);
        runners[`lat ${layout}`] = () => lat[layout]!.use().run(x);
        runners[`tjs ${layout}`] = () => tjsModels[layout]!.run(texts, seq);
        runners[`latText ${layout}`] = () => lat[layout]!.use().run(fromText());
        if (withPerLayer) runners[`perLayer ${layout}`] = () => perLayer[layout]!.use().run(x);
      }
      const ms = await alternating(runners, rounds, runs, cpuMs);
      for (const layout of int8WeightLayouts) {
        const line = `| ${s.name} | ${batch} × ${seq} | ${layout} | ${roundMs(ms, `exported ${layout}`)} | ${roundRatio(ms, `again ${layout}`, `exported ${layout}`)} | ${roundRatio(ms, `lat ${layout}`, `exported ${layout}`)} | ${roundMs(ms, `tjs ${layout}`)} | ${roundRatio(ms, `latText ${layout}`, `tjs ${layout}`)} | ${roundRatio(ms, `lat ${layout}`, 'lat per-channel-7bit')} |${withPerLayer ? ` ${roundRatio(ms, `perLayer ${layout}`, `exported ${layout}`)} |` : ''}`;
        report.push(line);
        console.log(line);
      }
    }
    await Promise.all([
      ...[exported, again, lat, perLayer].flatMap((pools) =>
        Object.values(pools).flatMap((p) => p.members.map((m: { release(): Promise<void> }) => m.release())),
      ),
      ...Object.values(tjsModels).map((m) => m.release()),
    ]);
    rmSync(root, { recursive: true, force: true });
  }
  report.push(
    `\nLoad average at the end: ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}.\n`,
  );
  await fixtureAccuracy(report, runtime);
}

/** Dev accuracy at full length of each SST-2 fixture model: fp32, and q8 in each int8 weight layout. */
async function fixtureAccuracy(report: Report, runtime: Runtime) {
  const fixtures = resolve(repo, flag('fixtures') ?? '../shared/fixtures');
  const models = join(fixtures, 'models');
  const devTsv = join(fixtures, 'glue/SST-2/dev.tsv');
  if (!existsSync(models) || !existsSync(devTsv)) {
    console.log(`  accuracy skipped: no SST-2 fixtures at ${fixtures}`);
    report.push(`Accuracy on the SST-2 fixtures: skipped, none at ${fixtures}.\n`);
    return;
  }
  report.push(
    `\nSST-2 dev accuracy at full length (${devTsv.replace(`${fixtures}/`, 'fixtures/')}, every sentence, batches of 32 sentences of similar length, 128 tokens at most): each fixture model in fp32 (plain graph) and as lat's q8 graph in each int8 weight layout.\n`,
  );
  report.push(`| model | fp32 | ${int8WeightLayouts.map((l) => `q8 ${l} (loss, pt)`).join(' | ')} |`);
  report.push(`|---|---|${int8WeightLayouts.map(() => '---|').join('')}`);
  const task = getTask('sst2');
  for (const name of readdirSync(models).sort()) {
    const m = loadModelDir(join(models, name));
    const dev = encodeExamples(readExamples(devTsv, task).examples, tokenizerOf(m), 128);
    const order = dev.map((_, i) => i).sort((a, b) => dev[a]!.ids.length - dev[b]!.ids.length);
    const accuracy = async (o: { dtype?: 'q8'; int8Weights?: Int8Weights; selection?: boolean }) => {
      const model = await createAnytimeModel(runtime, m.config, m.weights, { keptPositions: false, ...o });
      let correct = 0;
      for (let i = 0; i < order.length; i += 32) {
        const group = order.slice(i, i + 32);
        const l = (await model.run(padBatch(group.map((j) => dev[j]!)))).logits!;
        group.forEach((j, b) => {
          if (Number(l[b * 2 + 1]! > l[b * 2]!) === dev[j]!.label) correct++;
        });
      }
      await model.release();
      return (100 * correct) / dev.length;
    };
    const fp32 = await accuracy({ selection: false });
    const q8 = [];
    for (const layout of int8WeightLayouts) q8.push(await accuracy({ dtype: 'q8', int8Weights: layout }));
    const line = `| ${name} (${m.config.numLayers} layers × ${m.config.hiddenSize}) | ${fp32.toFixed(2)}% | ${q8.map((a) => `${a.toFixed(2)}% (${(fp32 - a).toFixed(2)})`).join(' | ')} |`;
    report.push(line);
    console.log(line);
  }
}
