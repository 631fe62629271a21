/**
 * A `lat compare` report (compare.json) in the page: accuracy against measured speed-up, one
 * curve per method, and for one dev input and one budget, the tokens each method keeps in each
 * layer, side by side.
 */
import { isLatError } from '@lat/core';
import { type CompareReport, parseCompareReport } from '@lat/search';
import uPlot from 'uplot';
import { keptRow } from './kept.js';

const $ = (id: string) => document.getElementById(id) as HTMLElement;
const palette = ['#1f5fbf', '#d9480f', '#2b8a3e', '#862e9c', '#e67700', '#0b7285'];
let chart: uPlot | undefined;

/**
 * Reads, validates and shows a report; a problem (not JSON, a field at fault) is shown in its own
 * alert, apart from the bundle's.
 */
export async function openCompare(where: string, read: () => Promise<string>): Promise<void> {
  try {
    showCompare(parseCompareReport(JSON.parse(await read()), where));
    $('compare-error').hidden = true;
  } catch (e) {
    $('compare').hidden = true;
    $('compare-error').hidden = false;
    // A LatError names the file and field itself; anything else (not JSON, no such URL) is prefixed.
    $('compare-error').textContent = isLatError(e)
      ? e.message
      : `${where}: ${e instanceof Error ? e.message : String(e)}`;
  }
}

function showCompare(r: CompareReport) {
  $('compare').hidden = false;
  $('compare-title').textContent =
    `${r.methods.map((m) => m.name).join(' vs ')} · ${r.task} · ${r.model.dir} (${r.model.numLayers} layers × ${r.model.hidden})`;
  drawCurves(r);
  const state = { example: 0, budget: r.budgets.length - 1 };
  const buttons = (id: string, labels: string[], key: 'example' | 'budget') =>
    $(id).replaceChildren(
      ...labels.map((label, i) => {
        const b = document.createElement('button');
        b.textContent = label;
        b.dataset['index'] = String(i);
        b.onclick = () => {
          state[key] = i;
          renderKept(r, state.example, state.budget);
        };
        return b;
      }),
    );
  buttons(
    'compare-examples',
    r.examples.map((e) => e.tokens.slice(1, 7).join(' ')),
    'example',
  );
  buttons(
    'compare-budgets',
    r.budgets.map((b) => `${Math.round(b * 100)}% MACs`),
    'budget',
  );
  renderKept(r, state.example, state.budget);
}

function drawCurves(r: CompareReport) {
  chart?.destroy();
  $('compare-chart').replaceChildren();
  // uPlot shares one x array: the union of every method's speed-ups, null where a method has none.
  const curves = r.methods.map((m) =>
    m.configurations.map((c) => ({ x: c.timing.batch32Speedup, y: c.metric })).sort((a, b) => a.x - b.x),
  );
  const xs = [...new Set(curves.flat().map((p) => p.x))].sort((a, b) => a - b);
  const ys = curves.map((points) => xs.map((x) => points.find((p) => p.x === x)?.y ?? null));
  chart = new uPlot(
    {
      width: 900,
      height: 280,
      title: `${r.metric} vs measured speed-up over the starting checkpoint (batch 32)`,
      scales: { x: { time: false } },
      axes: [{ values: (_, v) => v.map((x) => `${x.toFixed(2)}×`) }, {}],
      series: [
        { label: 'speed-up' },
        ...r.methods.map((m, k) => ({
          label: m.name,
          stroke: palette[k % palette.length]!,
          spanGaps: true,
          points: { size: 7 },
        })),
      ],
    },
    [xs, ...ys],
    $('compare-chart'),
  );
}

/** One row per method and layer: the input's tokens, kept or dropped at the budget's best configuration. */
function renderKept(r: CompareReport, example: number, budgetIndex: number) {
  for (const [id, i] of [
    ['compare-examples', example],
    ['compare-budgets', budgetIndex],
  ] as const)
    for (const b of $(id).children)
      b.classList.toggle('on', (b as HTMLElement).dataset['index'] === String(i));
  const ex = r.examples[example];
  const budget = r.budgets[budgetIndex]!;
  const rows: HTMLElement[] = [];
  for (const m of r.methods) {
    const kept = ex?.kept.find((k) => k.method === m.name && k.budget === budget);
    const head = document.createElement('div');
    head.className = 'method';
    const conf = kept ? m.configurations[kept.configuration] : undefined;
    head.textContent = conf
      ? `${m.name} · ${conf.label} · ${r.metric} ${conf.metric.toFixed(3)} · ${(conf.macsRatio * 100).toFixed(1)}% MACs · ${conf.timing.batch32Speedup.toFixed(2)}×`
      : `${m.name} · nothing within ${Math.round(budget * 100)}% of the MACs`;
    rows.push(head);
    for (const [l, layer] of (kept?.layers ?? []).entries())
      rows.push(keptRow(`layer ${l + 1}`, ex!.tokens, layer, { method: m.name, layer: String(l) }));
  }
  $('compare-kept').replaceChildren(...rows);
}
