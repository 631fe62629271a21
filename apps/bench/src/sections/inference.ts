import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encoderMacs, type LengthSpec, type Runtime, WordPieceTokenizer } from '@lat/core';
import { createAnytimeModel, createRandomWeights } from '@lat/layers';
import { fmt, type Report } from '../report.js';
import { batchOf, chosen, configOf, quick, type Size, threads, time, torch, torchJob } from '../setup.js';
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
) {
  // transformers.js runs on onnxruntime-node, so it is compared in the Node table only.
  const tjs = runtimeName.startsWith('onnxruntime-node') ? await loadTransformersJs() : undefined;
  const tjsRoot = typeof tjs === 'object' ? mkdtempSync(join(tmpdir(), 'lat-bench-tjs-')) : undefined;
  report.heading(
    `Inference (${runtimeName}; "from text" columns include tokenizing, the others start from token ids)`,
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
    '| model | batch × seq | plain ORT ms | lat full ms | lat/plain | PyTorch ms | lat full from text ms | transformers.js from text ms | lat full / transformers.js | r=0.8 | r=0.6 | r=0.4 |',
  );
  report.push('|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const s of which.filter(chosen)) {
    const c = configOf(s);
    const w = createRandomWeights(c, 1);
    const tok = new WordPieceTokenizer(benchVocab(c.vocabSize));
    if (tjsRoot) writeHfModelDir(join(tjsRoot, s.name), c, w, tok);
    let checked = false;
    for (const [batch, seq] of shapes) {
      if (s.name === 'bert-base' && batch * seq > 1024 && quick) continue;
      const x = batchOf(batch, seq);
      const texts = benchTexts(batch, seq);
      // lat from text: lat's tokenizer, then the anytime graph at full length.
      const fromText = () => encodeTexts(texts, tok, seq);
      // PyTorch first, then one ORT session at a time: idle ORT thread pools spin and would
      // steal cycles from whatever runs next.
      const pt = runtimeName.startsWith('onnxruntime-node')
        ? torch([torchJob('x', 'infer', s, batch, seq, quick ? 3 : 10)])
        : undefined;
      const plain = await createAnytimeModel(runtime, c, w, {
        selection: false,
        keptPositions: false,
        session: { threads },
      });
      const tPlain = await time(() => plain.run(x));
      const plainLogits = tjsRoot && !checked ? (await plain.run(fromText())).logits! : undefined;
      await plain.release();
      const lat = await createAnytimeModel(runtime, c, w, { keptPositions: false, session: { threads } });
      const tFull = await time(() => lat.run(x));
      const tText = await time(() => lat.run(fromText()));
      const reduced: string[] = [];
      for (const r of [0.8, 0.6, 0.4]) {
        const spec: LengthSpec = { form: 'ratio', ratios: new Array(c.numLayers).fill(r) };
        const t = await time(() => lat.run(x, spec));
        const counts = new Array(c.numLayers).fill(Math.ceil(r * seq));
        const macsSpeedup = encoderMacs(c, seq) / encoderMacs(c, seq, counts);
        const speedup = tPlain / t;
        reduced.push(
          `${speedup.toFixed(2)}× (MACs ${macsSpeedup.toFixed(2)}×, ${((speedup / macsSpeedup) * 100).toFixed(0)}%)`,
        );
      }
      await lat.release();
      let tTjs: number | undefined;
      if (tjsRoot && typeof tjs === 'object') {
        const model = await createTransformersJsModel(tjs, tjsRoot, s.name, threads);
        if (plainLogits) {
          checkSameLogits(s.name, await model.run(texts, seq), plainLogits);
          checked = true;
        }
        tTjs = await time(() => model.run(texts, seq));
        await model.release();
      }
      const line = `| ${s.name} | ${batch} × ${seq} | ${fmt(tPlain)} | ${fmt(tFull)} | ${(tFull / tPlain).toFixed(3)} | ${fmt(pt?.['x']?.ms)} | ${fmt(tText)} | ${fmt(tTjs)} | ${tTjs ? (tText / tTjs).toFixed(3) : '–'} | ${reduced.join(' | ')} |`;
      report.push(line);
      console.log(line);
    }
  }
  if (tjsRoot) rmSync(tjsRoot, { recursive: true, force: true });
}
