/** `lat train --method pooling --pooling 0:32,1:8`: a model directory turned into a pooled one. */
import { join } from 'node:path';
import { LatError } from '@lat/core';
import {
  checkPooling,
  extendPositions,
  type PoolingConfig,
  parsePoolingSchedule,
  withScorers,
} from '@lat/layers';
import type { CliModel } from './model.js';

export interface PoolingFlags {
  method?: 'lat' | 'adapler' | 'pooling';
  /** layer:width pairs; widths halve from --max-length; `none` (with chunk): blockwise attention only. */
  pooling?: string;
  poolingOperator?: 'halving' | 'iterative';
  /** Span QA: weight of the auxiliary scorer loss towards the gold answer (default: none). */
  scorerLoss?: number;
  /** Span QA: keep the first segment ([CLS] question [SEP]) through pooling (default: the model's). */
  keepFirstSegment?: boolean;
  /** Blockwise attention in blocks of this many tokens up to the first pooling. */
  chunk?: number;
  /** Blockwise attention in blocks of this many kept rows after the first pooling. */
  pooledChunk?: number;
  /** Blockwise layers: the first segment within the first n tokens attends globally (0: none). */
  globalTokens?: number;
  maxLength: number;
  task: string;
  seed: number;
  model: string;
}

/**
 * The model to train: with --method pooling, its config gets the schedule (the input length is
 * --max-length) and fresh scorers where it has none. A model that already pools keeps its
 * schedule unless --pooling gives another. A --max-length beyond the model's positions extends
 * them by copying the learned ones (see `extendPositions`); `info` says so.
 */
export function withPoolingFlags(f: PoolingFlags, model: CliModel, info: (line: string) => void): CliModel {
  for (const [flag, v] of [
    ['--pooling', f.pooling],
    ['--chunk', f.chunk],
    ['--pooled-chunk', f.pooledChunk],
    ['--global-tokens', f.globalTokens],
    ['--scorer-loss', f.scorerLoss],
    ['--keep-first-segment', f.keepFirstSegment],
  ] as const)
    if (v !== undefined && f.method !== 'pooling')
      throw new LatError('BAD_INPUT', `${flag} needs --method pooling`, flag);
  if (f.method !== 'pooling') return model;
  if (f.scorerLoss !== undefined && !(f.scorerLoss >= 0))
    throw new LatError('BAD_INPUT', `must be a number ≥ 0 (0: off), got ${f.scorerLoss}`, '--scorer-loss');
  if (f.scorerLoss !== undefined && f.task.toLowerCase() !== 'squad')
    throw new LatError(
      'BAD_INPUT',
      'needs span QA (--task squad): it pulls the scorers towards the gold answer span',
      '--scorer-loss',
    );
  if (f.keepFirstSegment && f.task.toLowerCase() !== 'squad')
    throw new LatError(
      'BAD_INPUT',
      'needs span QA (--task squad): it keeps the question through pooling, and a classification input is one segment',
      '--keep-first-segment',
    );
  // A pooled model keeps its operator in further training unless told otherwise.
  const operator = f.poolingOperator ?? model.config.pooling?.operator;
  if (f.pooling === undefined && !model.config.pooling)
    throw new LatError(
      'BAD_INPUT',
      '--method pooling needs a schedule, e.g. --pooling 0:32,1:8',
      '--pooling',
    );
  // `--pooling none --chunk n`: blockwise attention in every layer, no pooling (the baseline);
  // a model that already has blocks keeps them.
  if (f.pooling === 'none' && f.chunk === undefined && !model.config.pooling?.chunk)
    throw new LatError('BAD_INPUT', '--pooling none (the blockwise baseline) needs --chunk', '--pooling');
  const globalTokens = f.globalTokens ?? model.config.pooling?.globalTokens; // 0: off
  // The blockwise baseline (`--pooling none`) has no layers after a pooling to inherit it for.
  const pooledChunk = f.pooledChunk ?? (f.pooling === 'none' ? undefined : model.config.pooling?.pooledChunk);
  const pooling: PoolingConfig = {
    schedule:
      f.pooling === 'none'
        ? []
        : f.pooling !== undefined
          ? parsePoolingSchedule(f.pooling)
          : model.config.pooling!.schedule,
    inputLength: f.maxLength,
    ...(operator ? { operator } : {}),
    ...(f.chunk !== undefined
      ? { chunk: f.chunk }
      : model.config.pooling?.chunk
        ? { chunk: model.config.pooling.chunk }
        : {}),
    ...(globalTokens ? { globalTokens } : {}),
    // A pooled model keeps its blocks after pooling unless told otherwise.
    ...(pooledChunk ? { pooledChunk } : {}),
    // A model trained with the question kept goes on keeping it unless told otherwise.
    ...((f.keepFirstSegment ?? model.config.pooling?.keepFirstSegment) ? { keepFirstSegment: true } : {}),
  };
  const longer = extendPositions(model.config, model.weights, f.maxLength);
  if (longer.config !== model.config)
    info(
      `positions extended from ${model.config.maxPositions} to ${longer.config.maxPositions} by copying the learned ones (--max-length ${f.maxLength})`,
    );
  const where =
    f.globalTokens !== undefined
      ? '--global-tokens'
      : f.pooledChunk !== undefined
        ? '--pooled-chunk'
        : f.pooling !== undefined
          ? '--pooling'
          : join(f.model, 'config.json');
  checkPooling(
    pooling,
    longer.config,
    where,
    f.keepFirstSegment ? { keepFirstSegment: '--keep-first-segment' } : {},
  );
  const config = { ...longer.config, pooling };
  return { ...model, config, weights: withScorers(config, longer.weights, f.seed) };
}
