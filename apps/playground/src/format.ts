/** Human-readable multiply-accumulate counts: 35340779904 → "35.3 GMACs". */
export function formatMacs(macs: number): string {
  const units: [number, string][] = [
    [1e12, 'T'],
    [1e9, 'G'],
    [1e6, 'M'],
    [1e3, 'K'],
  ];
  for (const [scale, prefix] of units) {
    if (macs >= scale) return `${(macs / scale).toFixed(1)} ${prefix}MACs`;
  }
  return `${macs} MACs`;
}
