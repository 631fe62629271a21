import { encoderMacs, smallestLengths } from '@lat/core';
import { type ModelConfig, parameterCount, poolingCounts, predictorWidth } from '@lat/layers';
import { loadCliModel, loadFrontier } from '../model.js';
import type { Output } from '../output.js';
import { removedPerLayer, structureLines } from './axformer.js';

export async function infoCommand(f: { model: string; seq?: number }, out: Output) {
  const model = await loadCliModel(f.model);
  const c = model.config;
  const seq = f.seq ?? model.info?.maxLength ?? 128;
  const full = encoderMacs(c, seq);
  // A pooled model's own cost is its schedule's; LAT models report their smallest LengthDrop one.
  const smallest = c.pooling ? poolingCounts(c, seq) : smallestLengths(seq, c.numLayers);
  const small = encoderMacs(c, seq, smallest);
  const frontier = loadFrontier(model);
  const info = {
    architecture: c.architecture,
    layers: c.numLayers,
    hidden: c.hiddenSize,
    heads: c.numHeads,
    intermediate: c.intermediateSize,
    parameters: parameterCount(c),
    vocabulary: model.tokenizer.vocab.length,
    labels: c.labels,
    task: model.info?.task ?? null,
    seq,
    macsFull: full,
    smallestLengths: smallest,
    macsSmallest: small,
    smallestRatio: small / full,
    frontier: frontier
      ? { points: frontier.points.length, area: frontier.area, metric: frontier.metric.name }
      : null,
    fingerprint: model.fingerprint,
    /** AxFormer-pruned models: what is left of each layer. */
    pruning: c.layers ? removedPerLayer(c) : null,
    /** AdapLeR models: their Contribution Predictors and thresholds η. */
    adapler: model.adapler ? adaplerInfo(c, model.adapler.eta) : null,
  };
  out.result({ command: 'info', ...info }, () => {
    out.info(
      `${c.architecture}: ${c.numLayers} layers × ${c.hiddenSize} hidden, ${c.numHeads} heads, FFN ${c.intermediateSize}`,
    );
    out.info(
      `parameters: ${info.parameters.toLocaleString('en-US')} · vocabulary ${info.vocabulary} · labels ${c.labels.join(', ')}`,
    );
    if (info.adapler) {
      const a = info.adapler;
      out.info(
        `AdapLeR: a Contribution Predictor before each of the ${a.predictorLayers} layers (Linear(${c.hiddenSize}→${a.predictorWidth}) → GELU → Linear(${a.predictorWidth}→1), ${a.predictorParameters.toLocaleString('en-US')} parameters in all)`,
      );
      out.info(
        `  η per layer ${a.eta.map((e) => e.toFixed(4)).join(', ')}: a token stays while its predicted contribution ≥ η/n; each input keeps its own counts (lat eval --dev shows them and the MACs speed-up)`,
      );
    }
    // An AdapLeR model's cost depends on each input: no one smaller configuration to quote.
    out.info(
      `MACs at ${seq} tokens: ${(full / 1e6).toFixed(1)} M full${info.adapler ? '' : `, ${(small / 1e6).toFixed(1)} M ${c.pooling ? `pooled (${c.pooling.schedule.map(([l, w]) => `${l}:${w}`).join(',')})` : 'at the smallest LengthDrop configuration'} (${(info.smallestRatio * 100).toFixed(1)}%)`}`,
    );
    if (c.layers) out.info(`pruned (AxFormer):\n  ${structureLines(c).join('\n  ')}`);
    out.info(
      frontier
        ? `frontier: ${frontier.points.length} points (area ${frontier.area.toFixed(4)})`
        : 'frontier: none (run `lat search`)',
    );
  });
  return info;
}

/** What `lat info` says of an AdapLeR model: one predictor per layer, its size, and η. */
function adaplerInfo(c: ModelConfig, eta: number[]) {
  return {
    predictorLayers: c.numLayers,
    predictorWidth,
    predictorParameters: c.numLayers * (c.hiddenSize * predictorWidth + 2 * predictorWidth + 1),
    eta,
  };
}
