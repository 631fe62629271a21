/** One row of the kept-token view: a label, then the input's tokens, kept or dropped by one layer. */
export function keptRow(
  label: string,
  tokens: readonly string[],
  kept: readonly number[],
  data: Record<string, string>,
): HTMLElement {
  const row = document.createElement('div');
  row.className = 'row';
  Object.assign(row.dataset, data);
  const name = document.createElement('span');
  name.className = 'name';
  name.textContent = label;
  const keep = new Set(kept);
  row.append(
    name,
    ...tokens.map((t, p) => {
      const span = document.createElement('span');
      span.className = `tok ${keep.has(p) ? 'kept' : 'dropped'}`;
      span.textContent = t;
      return span;
    }),
  );
  return row;
}
