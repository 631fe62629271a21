/**
 * `adapler`: AdapLeR (Modarressi et al. 2022, REFERENCE.md §3). A plain fine-tuned model (the
 * `plain` method's when it is in the report, else trained here, in `saliency/`) gives the saliency
 * targets; then `lat train --method adapler` per length
 * penalty φ (`--adapler-phi`), each in `phi-<φ>/`, resumable. One configuration per φ: each input
 * keeps its own number of tokens per layer, so `kept` is the spread that matters here.
 */
import { join } from 'node:path';
import { adaplerMacs, padBatch } from '@lat/layers';
import { defaultAdaplerConfig, encodeExamples, evaluate, readExamples } from '@lat/train';
import { loadAdaplerModel, openAdapler } from '../../commands/adapler.js';
import type { CompareMethod, MethodConfiguration } from '../method.js';
import { keptSpread } from '../spread.js';
import { fineTuned, trainInto } from './anytime.js';

export const adaplerMethod: CompareMethod = {
  name: 'adapler',
  summary:
    'AdapLeR: per-input token removal by Contribution Predictors, one model per length penalty φ (Modarressi et al. 2022)',
  options: ['adaplerPhi'],
  inapplicable: ({ settings: { options } }) => {
    const phi = options.adaplerPhi;
    if (phi.length === 0) return '--adapler-phi lists no φ';
    const bad = phi.find((p) => !(p >= 0));
    if (bad !== undefined) return `--adapler-phi ${bad} is not a length penalty ≥ 0`;
    if (new Set(phi).size !== phi.length) return `--adapler-phi ${phi.join(',')} repeats a φ`;
    return undefined;
  },
  derive: async (c) => {
    const s = c.settings;
    const saliency = await fineTuned(c, false, 'saliency');
    // γ as the reference; η's learning rate and λ's schedule by the run's length (the defaults).
    const adapler = { gamma: defaultAdaplerConfig.gamma };
    const models = [];
    for (const phi of s.options.adaplerPhi)
      models.push(
        await trainInto(c, false, {
          into: `phi-${phi}`,
          flags: {
            method: 'adapler',
            ...adapler,
            phi: [phi],
            saliencyModel: saliency.dir,
            // Every φ trains on the same data with the same saliency model: one cached target file.
            cacheDir: join(c.dir, 'tokenized'),
          },
          load: loadAdaplerModel,
        }),
      );
    const task = c.task;
    const items = encodeExamples(readExamples(s.dev, task).examples, models[0]!.tokenizer, s.maxLength);
    const lengths = items.map((e) => e.ids.length);
    const sessions = await Promise.all(models.map((m) => openAdapler(m, s.threads)));
    const configurations = models.map((model, i): MethodConfiguration => {
      const m = sessions[i]!;
      return {
        label: `φ ${s.options.adaplerPhi[i]}`,
        settings: { phi: s.options.adaplerPhi[i] },
        evaluate: async () => {
          const r = await evaluate(m, items, task.metrics, undefined, { batchSize: 32 });
          const realised = r.kept.map((k, b) => adaplerMacs(model.config, lengths[b]!, k));
          // Padded to max length, an input pays for every position until the first layer drops
          // the padding with the tokens it removes; after that it keeps what it kept unpadded.
          const padded = r.kept.map((k) => adaplerMacs(model.config, s.maxLength, k));
          const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
          return {
            metrics: r.metrics,
            macs: mean(realised),
            paddedMacs: mean(padded),
            kept: keptSpread(r.kept, lengths),
          };
        },
        run: (batch) => m.run(padBatch(batch)),
        keptPositions: async (item) => (await m.run(padBatch([item]))).keptPositions.map((l) => l[0]!),
      };
    });
    return {
      recipe: {
        saliency: saliency.info?.recipe ?? null,
        training: models.map((m) => m.info?.recipe ?? null),
      },
      modelDir: models[0]!.dir,
      params: [...models[0]!.weights.values()].reduce((n, t) => n + t.data.length, 0),
      configurations,
      release: async () => {
        for (const m of sessions) await m.release();
      },
    };
  },
};
