/**
 * `pooling`: trainable representation pooling (REFERENCE.md §4). `lat train --method pooling` from
 * the starting checkpoint, one model per schedule, each in `width-<w>/` (resumable). The schedules
 * follow the input length: every input is at most --max-length tokens, and after layer ⌊L/3⌋'s
 * attention its rows are merged down to --max-length / 4 or / 8 (successive halving), so the
 * rest of the encoder runs on at most that many rows; shorter inputs merge less (an input already
 * that short is not pooled). One configuration per schedule.
 */
import { poolingCounts } from '@lat/layers';
import { encodeExamples, readExamples } from '@lat/train';
import type { CompareMethod, DerivedMethod, PreflightContext } from '../method.js';
import { keptSpread } from '../spread.js';
import { anytimeMethod, trainInto } from './anytime.js';

/** The widths are --max-length over these (halving twice and three times). */
const divisors = [4, 8];
/** A pooled row set keeps [CLS] and at least one merged row. */
const minWidth = 2;

/** The layer every schedule pools at: a third of the way up, so most layers run on fewer rows. */
const poolingLayer = (numLayers: number) => Math.floor(numLayers / 3);

/** Why the schedules cannot be built for this checkpoint and max length, or undefined. */
function scheduleProblem({ base, settings }: PreflightContext): string | undefined {
  const L = base.config.numLayers;
  if (L < 2)
    return `the model has ${L} layer; pooling after layer ${poolingLayer(L)} leaves no later layer to run on the pooled rows`;
  const n = settings.maxLength;
  const top = divisors.at(-1)!;
  if (n % top !== 0 || n / top < minWidth)
    return `--max-length ${n} is too short for its schedules (pooled to --max-length / ${divisors.join(' and / ')}): it must be a multiple of ${top} and at least ${top * minWidth}`;
  return undefined;
}

export const poolingMethod: CompareMethod = {
  name: 'pooling',
  summary:
    'trainable pooling: rows merged by a learned scorer and successive halving after a third of the layers, one model per width (Pietruszka et al. 2022)',
  options: [],
  inapplicable: scheduleProblem,
  derive: async (c) => {
    const s = c.settings;
    const layer = poolingLayer(c.base.config.numLayers);
    const items = encodeExamples(readExamples(s.dev, c.task).examples, c.base.tokenizer, s.maxLength);
    const lengths = items.map((e) => e.ids.length);
    const parts: DerivedMethod[] = [];
    for (const width of divisors.map((d) => s.maxLength / d)) {
      const schedule = `${layer}:${width}`;
      const model = await trainInto(c, false, {
        into: `width-${width}`,
        flags: { method: 'pooling', pooling: schedule },
      });
      const part = await anytimeMethod(c, model, [{ label: schedule }], {});
      const kept = keptSpread(
        lengths.map((n) => poolingCounts(model.config, n)),
        lengths,
      );
      parts.push({
        ...part,
        configurations: part.configurations.map((conf) => ({
          ...conf,
          settings: { schedule: [[layer, width]], inputLength: s.maxLength },
          evaluate: async () => ({ ...(await conf.evaluate()), kept }),
        })),
      });
    }
    return {
      recipe: { training: parts.map((p) => p.recipe['training']) },
      modelDir: parts[0]!.modelDir,
      params: parts[0]!.params,
      configurations: parts.flatMap((p) => p.configurations),
      release: async () => {
        for (const p of parts) await p.release();
      },
    };
  },
};
