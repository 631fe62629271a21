/**
 * The kept-count histogram of an AdapLeR bundle over a batch of inputs: one row per layer, one bar
 * per kept count between the layer's smallest and largest, as tall as the inputs that kept it.
 */
import type { LengthReport } from '@lat/layers';

export function histogramView(report: LengthReport): HTMLElement[] {
  return report.histogram.map((counts, layer) => {
    const row = document.createElement('div');
    row.className = 'hist-row';
    row.dataset['layer'] = String(layer);
    const name = document.createElement('span');
    name.className = 'name';
    name.textContent = `layer ${layer + 1}`;
    const bars = document.createElement('div');
    bars.className = 'bars';
    const most = Math.max(...counts);
    for (let k = report.minKept[layer]!; k <= report.maxKept[layer]!; k++) {
      const inputs = counts[k] ?? 0;
      const bar = document.createElement('div');
      bar.className = 'bar';
      Object.assign(bar.dataset, { kept: String(k), inputs: String(inputs) });
      bar.title = `${inputs} input${inputs === 1 ? '' : 's'} kept ${k} token${k === 1 ? '' : 's'}`;
      const fill = document.createElement('div');
      fill.className = 'fill';
      fill.style.height = `${(inputs / most) * 100}%`;
      const label = document.createElement('span');
      label.className = 'k-label';
      label.textContent = String(k);
      bar.append(fill, label);
      bars.append(bar);
    }
    const mean = document.createElement('span');
    mean.className = 'mean';
    mean.textContent = `mean ${report.meanKept[layer]!.toFixed(1)} (${report.minKept[layer]}–${report.maxKept[layer]})`;
    row.append(name, bars, mean);
    return row;
  });
}
