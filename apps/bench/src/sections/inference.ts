import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encoderMacs, type Runtime, WordPieceTokenizer } from '@lat/core';
import { createRandomWeights } from '@lat/layers';
import { fmt, type Report } from '../report.js';
import {
  alternating,
  batchOf,
  chosen,
  configOf,
  everyLayer,
  keepRatios,
  median,
  plainAndLat,
  quick,
  type Size,
  spread,
  type Turns,
  threads,
  torch,
  torchJob,
  turns,
} from '../setup.js';
import {
  benchTexts,
  benchVocab,
  createTransformersJsModel,
  encodeTexts,
  loadTransformersJs,
  writeHfModelDir,
} from '../transformers-js.js';

/** Logits from transformers.js and lat's plain graph on the same text must agree: same weights run. */
export function checkSameLogits(name: string, tjs: Float32Array, lat: Float32Array) {
  const diff = Math.max(...Array.from(tjs, (v, i) => Math.abs(v - lat[i]!)));
  console.log(`  ${name}: transformers.js vs plain graph logits, max |diff| ${diff.toExponential(2)}`);
  if (!(diff < 1e-3)) throw new Error(`transformers.js logits differ from lat's plain graph by ${diff}`);
}

export async function inference(
  report: Report,
  runtime: Runtime,
  runtimeName: string,
  which: Size[],
  shapes: [number, number][],
  { rounds, runs }: Turns = turns('inference'),
) {
  // transformers.js runs on onnxruntime-node, so it is compared in the Node table only.
  const tjs = runtimeName.startsWith('onnxruntime-node') ? await loadTransformersJs() : undefined;
  const tjsRoot = typeof tjs === 'object' ? mkdtempSync(join(tmpdir(), 'lat-bench-tjs-')) : undefined;
  report.heading(
    `Inference (${runtimeName}; "from text" columns include tokenizing, the others start from token ids; ${rounds} rounds of ${runs} steps in turn)`,
  );
  if (typeof tjs === 'string') {
    console.log(`  transformers.js skipped: ${tjs}`);
    report.push(`transformers.js: skipped — ${tjs}.\n`);
  } else if (tjs) {
    report.push(
      `transformers.js: @huggingface/transformers ${tjs.env.version}, offline, CPU, ${threads} threads, running the plain graph (same weights) from a local model directory; its logits are checked against lat's plain graph.\n`,
    );
  }
  report.push(
    "Every configuration of a shape (plain, lat at full length from ids and from text, lat at each r, transformers.js) stays open, sessions not spinning, and within each round runs once per step in a fresh seeded random order, never twice in a row. ms: median over rounds of each round's median; ratios and speed-ups: median (min–max) over rounds; share: the median speed-up ÷ the MACs speed-up. PyTorch runs apart, before the others.\n",
  );
  report.table(
    'model | batch × seq | plain ORT ms | lat full ms | lat/plain | PyTorch ms | lat full from text ms | transformers.js from text ms | lat full / transformers.js | r=0.8 | r=0.6 | r=0.4',
  );
  for (const s of which.filter(chosen)) {
    const c = configOf(s);
    const w = createRandomWeights(c, 1);
    const tok = new WordPieceTokenizer(benchVocab(c.vocabSize));
    if (tjsRoot) writeHfModelDir(join(tjsRoot, s.name), c, w, tok);
    const { plain, lat } = await plainAndLat(runtime, c, w);
    const tjsModel =
      tjsRoot && typeof tjs === 'object'
        ? await createTransformersJsModel(tjs, tjsRoot, s.name, threads)
        : undefined;
    let checked = false;
    for (const [batch, seq] of shapes) {
      if (s.name === 'bert-base' && batch * seq > 1024 && quick) continue;
      const x = batchOf(batch, seq);
      const texts = benchTexts(batch, seq);
      // lat from text: lat's tokenizer, then the anytime graph at full length.
      const fromText = () => encodeTexts(texts, tok, seq);
      if (tjsModel && !checked) {
        checkSameLogits(s.name, await tjsModel.run(texts, seq), (await plain.run(fromText())).logits!);
        checked = true;
      }
      // PyTorch in its own process, before the ORT sessions run.
      const pt = runtimeName.startsWith('onnxruntime-node')
        ? torch([torchJob('x', 'infer', s, batch, seq, quick ? 3 : 10)])
        : undefined;
      const runners: Record<string, () => Promise<unknown>> = {
        plain: () => plain.run(x),
        full: () => lat.run(x),
        text: () => lat.run(fromText()),
        ...Object.fromEntries(keepRatios.map((r) => [`r=${r}`, () => lat.run(x, everyLayer(c, r))])),
        ...(tjsModel ? { tjs: () => tjsModel.run(texts, seq) } : {}),
      };
      const ms = await alternating(runners, rounds, runs);
      const med = (k: string) => median(ms[k]!.map((t) => t.median));
      const per = (a: string, b: string) => ms[a]!.map((t, i) => t.median / ms[b]![i]!.median);
      const reduced = keepRatios.map((r) => {
        const counts = new Array(c.numLayers).fill(Math.ceil(r * seq));
        const macsSpeedup = encoderMacs(c, seq) / encoderMacs(c, seq, counts);
        const speedups = per('plain', `r=${r}`);
        return `${spread(speedups)} (MACs ${macsSpeedup.toFixed(2)}×, ${((median(speedups) / macsSpeedup) * 100).toFixed(0)}%)`;
      });
      const line = `| ${s.name} | ${batch} × ${seq} | ${fmt(med('plain'))} | ${fmt(med('full'))} | ${spread(per('full', 'plain'))} | ${fmt(pt?.['x']?.ms)} | ${fmt(med('text'))} | ${tjsModel ? fmt(med('tjs')) : '–'} | ${tjsModel ? spread(per('text', 'tjs')) : '–'} | ${reduced.join(' | ')} |`;
      report.push(line);
      console.log(line);
    }
    await Promise.all([plain.release(), lat.release(), tjsModel?.release()]);
  }
  if (tjsRoot) rmSync(tjsRoot, { recursive: true, force: true });
}
