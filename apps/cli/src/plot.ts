/** SVG plots: a frontier (metric against cost ratio), or several curves (lat compare). */
import type { FrontierFile } from '@lat/search';

/** One curve: its points in drawing order, and optionally one highlighted point. */
export interface Curve {
  name: string;
  points: { x: number; y: number }[];
  highlight?: number;
}

const palette = ['#1f5fbf', '#d9480f', '#2b8a3e', '#862e9c', '#e67700', '#0b7285'];

/**
 * Curves on linear axes with tick labels; a legend when there is more than one. `xTicks` are
 * positions with their labels; the x range spans them and the points.
 */
export function curvesSvg(
  curves: readonly Curve[],
  axes: { xLabel: string; yLabel: string; xTicks: readonly [number, string][] },
): string {
  const W = 560;
  const H = 360;
  // A legend (more than one curve) takes a row above the plot, so it never covers a point.
  const m = { l: 60, r: 20, t: curves.length > 1 ? 40 : 20, b: 50 };
  const xs = [...curves.flatMap((c) => c.points.map((p) => p.x)), ...axes.xTicks.map(([x]) => x)];
  const ys = curves.flatMap((c) => c.points.map((p) => p.y));
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const [y0, y1] = [Math.min(...ys) - 0.01, Math.max(...ys) + 0.01];
  const px = (x: number) => m.l + ((x - x0) / (x1 - x0 || 1)) * (W - m.l - m.r);
  const py = (y: number) => H - m.b - ((y - y0) / (y1 - y0 || 1)) * (H - m.t - m.b);
  const series = curves
    .map((c, k) => {
      const color = palette[k % palette.length]!;
      const path = c.points
        .map((p, i) => `${i ? 'L' : 'M'}${px(p.x).toFixed(1)},${py(p.y).toFixed(1)}`)
        .join(' ');
      const dots = c.points
        .map(
          (p, i) =>
            `<circle cx="${px(p.x).toFixed(1)}" cy="${py(p.y).toFixed(1)}" r="${i === c.highlight ? 6 : 3.5}" fill="${i === c.highlight ? '#d33' : color}"/>`,
        )
        .join('');
      return `<path d="${path}" fill="none" stroke="${color}" stroke-width="1.5"/>\n${dots}`;
    })
    .join('\n');
  const legend =
    curves.length > 1
      ? curves
          .map((c, k) => {
            const x = m.l + 110 * k;
            return `<rect x="${x}" y="10" width="10" height="10" fill="${palette[k % palette.length]}"/><text x="${x + 15}" y="19" font-size="11">${c.name}</text>`;
          })
          .join('\n')
      : '';
  const ticks = axes.xTicks
    .map(
      ([x, label]) =>
        `<text x="${px(x)}" y="${H - m.b + 18}" font-size="11" text-anchor="middle">${label}</text>`,
    )
    .join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
<line x1="${m.l}" y1="${H - m.b}" x2="${W - m.r}" y2="${H - m.b}" stroke="#444"/>
<line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${H - m.b}" stroke="#444"/>
${ticks}
<text x="${m.l - 8}" y="${py(y1)}" font-size="11" text-anchor="end">${y1.toFixed(3)}</text>
<text x="${m.l - 8}" y="${py(y0)}" font-size="11" text-anchor="end">${y0.toFixed(3)}</text>
<text x="${(W + m.l) / 2}" y="${H - 12}" font-size="12" text-anchor="middle">${axes.xLabel}</text>
<text x="16" y="${(H - m.b) / 2}" font-size="12" transform="rotate(-90 16 ${(H - m.b) / 2})" text-anchor="middle">${axes.yLabel}</text>
${series}
${legend}
</svg>
`;
}

export function frontierSvg(f: FrontierFile, current?: number): string {
  const curve: Curve = {
    name: f.metric.name,
    points: f.points.map((p) => ({ x: p.costRatio, y: p.metric })),
    ...(current !== undefined ? { highlight: current } : {}),
  };
  return curvesSvg([curve], {
    xLabel: `cost (${f.costUnit}, fraction of full model)`,
    yLabel: f.metric.name,
    xTicks: [0, 0.25, 0.5, 0.75, 1].map((t) => [t, `${t * 100}%`]),
  });
}

/**
 * The frontier as text, for terminals and log files: metric (rows) against cost ratio (columns),
 * one `*` per point; both axes span the frontier's own range (cost in 5% steps) and are labelled.
 */
export function frontierAscii(f: FrontierFile, width = 60, height = 14): string {
  const xs = f.points.map((p) => p.costRatio);
  const ys = f.points.map((p) => p.metric);
  const [x0, x1] = [
    Math.floor(Math.min(...xs) * 20) / 20,
    Math.max(Math.ceil(Math.max(...xs) * 20) / 20, 0.05),
  ];
  const [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  const grid = Array.from({ length: height }, () => Array<string>(width).fill(' '));
  for (const p of f.points) {
    const col = x1 === x0 ? 0 : Math.round(((p.costRatio - x0) / (x1 - x0)) * (width - 1));
    const row = y1 === y0 ? 0 : Math.round(((y1 - p.metric) / (y1 - y0)) * (height - 1));
    grid[row]![col] = '*';
  }
  const label = (y: number) => y.toFixed(3).padStart(7);
  const rows = grid.map((r, i) => {
    const y = i === 0 ? label(y1) : i === height - 1 ? label(y0) : ' '.repeat(7);
    return `${y} |${r.join('')}`;
  });
  const pct = (x: number) => `${Math.round(x * 100)}%`;
  const mid = pct((x0 + x1) / 2);
  const half = Math.floor(width / 2);
  const ticks = `${' '.repeat(8)}${pct(x0)}${mid.padStart(half - pct(x0).length + Math.ceil(mid.length / 2))}${pct(x1).padStart(width - half - Math.ceil(mid.length / 2) + 1)}`;
  return [
    `${f.metric.name} vs cost (${f.costUnit}, fraction of the full model)`,
    ...rows,
    `${' '.repeat(8)}+${'-'.repeat(width)}`,
    ticks,
  ].join('\n');
}
