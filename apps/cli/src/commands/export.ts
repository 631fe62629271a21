import { LatError } from '@lat/core';
import { type Int8Weights, int8WeightLayouts } from '@lat/layers';
import { exportModel } from '@lat/layers/node';
import { Option } from 'commander';
import { loadCliModel, loadFrontier, paddedLengthOf } from '../model.js';
import type { Output } from '../output.js';

export interface ExportFlags {
  model: string;
  out: string;
  frontier?: string;
  examples?: string[];
  /** int8: dynamic quantisation of the encoder's linears (a q8 graph, with the q8 frontier). */
  quantize?: 'int8';
  /** With --quantize int8: the int8 weights' layout (default per-channel 7-bit). */
  int8Weights?: Int8Weights;
}

/** `--int8-weights`: the layouts lat's q8 graphs offer. */
export const int8WeightsOption = () =>
  new Option(
    '--int8-weights <layout>',
    "with --quantize int8: per-channel-7bit (default: one scale per output, ±63, exact on every CPU) or per-tensor-8bit (one scale, ±127: transformers.js q8 models' layout, exact with VNNI/AMX/dotprod and in wasm)",
  ).choices([...int8WeightLayouts]);

export async function exportCommand(f: ExportFlags, out: Output) {
  const model = await loadCliModel(f.model);
  const dtype = f.quantize === 'int8' ? 'q8' : 'fp32';
  if (f.int8Weights && dtype !== 'q8')
    throw new LatError(
      'BAD_INPUT',
      '--int8-weights applies to an int8 export; add --quantize int8',
      '--int8-weights',
    );
  const frontier = loadFrontier(model, f.frontier, dtype);
  const regression = model.config.numLabels === 1;
  const nullThreshold = model.info?.nullThreshold;
  // Span (SQuAD) models export their question-answering head; the rest their classifier.
  const manifest = exportModel(f.out, model.config, model.weights, {
    name: model.name,
    fingerprint: model.fingerprint,
    // A SQuAD v2 model's tuned null threshold travels with it, so the bundle abstains as the directory does.
    task: model.span
      ? { type: 'span', labels: [], ...(nullThreshold !== undefined ? { nullThreshold } : {}) }
      : { type: regression ? 'regression' : 'classification', labels: regression ? [] : model.config.labels },
    tokenizer: model.tokenizer,
    // A model lat did not train has no recorded length: the usual one, as far as its positions go.
    maxLength: Math.min(paddedLengthOf(model), model.config.maxPositions - model.config.positionOffset),
    ...(frontier ? { frontier } : {}),
    ...(f.examples ? { examples: f.examples } : {}),
    dtype,
    ...(f.int8Weights ? { int8Weights: f.int8Weights } : {}),
  });
  out.result(
    {
      command: 'export',
      out: f.out,
      graph: manifest.graph,
      dtype,
      ...(manifest.model.int8Weights ? { int8Weights: manifest.model.int8Weights } : {}),
      frontierPoints: frontier?.points.length ?? 0,
      adapler: model.adapler !== undefined,
    },
    () =>
      out.info(
        `exported ${f.out}/model.onnx (${dtype}${manifest.model.int8Weights ? `, ${manifest.model.int8Weights} weights` : ''}${model.adapler ? ', AdapLeR: per-input token removal' : ''}) + lat.json${frontier ? ` with a ${frontier.points.length}-point frontier` : ''}`,
      ),
  );
  return manifest;
}
