/**
 * The served model: a pipeline for its task, and the configurations the controller may run it at
 * — the frontier's points plus the full model, or uniform ratios when the model has no frontier.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { bundleManifestFile, type LengthSpec } from '@lat/core';
import {
  bundleModel,
  type LengthOptions,
  type ModelFiles,
  macsAt,
  pipeline,
  pointLengths,
  type QuestionAnsweringPipeline,
  type TextClassificationPipeline,
} from '@lat/pipeline';
import { modelDirFiles, readBundleDir, readFrontierJson, readModelDir } from '@lat/pipeline/node';
import { createNodeRuntime } from '@lat/runtime-node';
import type { FrontierFile } from '@lat/search';
import type { ServeOptions } from './options.js';

/** One configuration the controller can pick for a batch. */
export interface Candidate {
  /** 'full', 'frontier[i]' (index in the frontier file) or 'uniform-0.70'. */
  name: string;
  /** What the pipeline is called with ({} for the full model). */
  options: LengthOptions;
  spec?: LengthSpec;
  /** MACs relative to the full model (from the frontier, or computed at the reference length). */
  costRatio: number;
  /** The frontier's metric for this point, when known. */
  metric?: number;
}

export type Served =
  | { task: 'text-classification'; pipe: TextClassificationPipeline }
  | { task: 'question-answering'; pipe: QuestionAnsweringPipeline };

export interface ServedModel {
  served: Served;
  /** Cheapest first; the last is the full model. */
  candidates: Candidate[];
  /**
   * Where the candidates came from: the model's frontier, or uniform ratios when it has none;
   * 'adapler': an AdapLeR model, run at each input's own lengths (its one candidate).
   */
  candidateSource: 'frontier' | 'uniform-fallback' | 'adapler';
}

/** At most this many configurations are measured and offered to the controller. */
const maxCandidates = 8;
const uniformRatios = [0.4, 0.55, 0.7, 0.85];

/** The model directory's or bundle's files: weights or graph, tokenizer, task, frontier. */
async function readServedFiles(o: ServeOptions): Promise<ModelFiles> {
  return existsSync(join(o.model, bundleManifestFile))
    ? bundleModel(await readBundleDir(o.model))
    : modelDirFiles(
        await readModelDir(o.model, o.task ? { span: o.task === 'question-answering' } : {}),
        readFrontierJson(o.model),
      );
}

/** Opens the model's session (in the inference worker thread: runs block the thread they are on). */
export async function loadServedModel(o: ServeOptions): Promise<ServedModel> {
  const files = await readServedFiles(o);
  const task = o.task ?? (files.task === 'span' ? 'question-answering' : 'text-classification');
  const frontier = o.frontier ? readFrontierJson(o.model, o.frontier) : undefined;
  const options = {
    runtime: createNodeRuntime({ threads: o.threads }),
    batchSize: o.maxBatch,
    ...(frontier !== undefined ? { frontier } : {}),
  };
  const served: Served =
    task === 'question-answering'
      ? { task, pipe: await pipeline('question-answering', files, options) }
      : { task, pipe: await pipeline('text-classification', files, options) };
  // An AdapLeR model picks each input's lengths itself: there is nothing for the controller to choose.
  if (served.pipe.adapler)
    return {
      served,
      candidates: [{ name: 'adapler', options: {}, costRatio: 1 }],
      candidateSource: 'adapler',
    };
  const f = served.pipe.frontier;
  return {
    served,
    candidates: f ? frontierCandidates(f) : uniformCandidates(served.pipe),
    candidateSource: f ? 'frontier' : 'uniform-fallback',
  };
}

/** The frontier's points (thinned to a few spread over cost), then the full model. */
export function frontierCandidates(f: FrontierFile): Candidate[] {
  const isFull = (l: readonly number[]) => l.every((x) => x >= (f.lengthForm === 'ratio' ? 1 : f.maxLength));
  const points = f.points
    .map((point, i) => ({ point, i }))
    .filter(({ point }) => !isFull(point.lengths))
    .sort((a, b) => a.point.cost - b.point.cost);
  const kept = thin(points, maxCandidates - 1);
  const full = f.points.find((p) => isFull(p.lengths));
  return [
    ...kept.map(({ point, i }): Candidate => {
      const spec = pointLengths(f, point);
      return {
        name: `frontier[${i}]`,
        options: spec.form === 'ratio' ? { ratios: spec.ratios } : { lengths: spec.lengths },
        spec,
        costRatio: point.costRatio,
        metric: point.metric,
      };
    }),
    { name: 'full', options: {}, costRatio: 1, ...(full ? { metric: full.metric } : {}) },
  ];
}

/** Without a frontier: the same ratio at every layer, a few steps down from the full model. */
function uniformCandidates(p: {
  config: TextClassificationPipeline['config'];
  maxLength: number;
}): Candidate[] {
  const layers = p.config.numLayers;
  const ref = p.maxLength;
  const full = macsAt(p.config, ref);
  return [
    ...uniformRatios.map((r): Candidate => {
      const spec: LengthSpec = { form: 'ratio', ratios: new Array(layers).fill(r) };
      return {
        name: `uniform-${r.toFixed(2)}`,
        options: { ratios: spec.ratios },
        spec,
        costRatio: macsAt(p.config, ref, spec) / full,
      };
    }),
    { name: 'full', options: {}, costRatio: 1 },
  ];
}

/** Keeps `n` items spread evenly through a sorted list, always with its first and last. */
function thin<T>(items: T[], n: number): T[] {
  if (items.length <= n) return items;
  return Array.from({ length: n }, (_, k) => items[Math.round((k * (items.length - 1)) / (n - 1))]!);
}
