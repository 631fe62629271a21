/** How commands talk: human lines or JSON (`--json`), and errors as one line with an exit code. */
import { LatError } from '@lat/core';

export const schemaVersion = 1;

export interface Output {
  json: boolean;
  /** A line for people (suppressed with --json). */
  info(line: string): void;
  /** The command's result: JSON with --json, else printed by `human`. */
  result(value: Record<string, unknown>, human: () => void): void;
  /** One JSON line per event with --json (train progress). */
  event(value: Record<string, unknown>): void;
}

export function createOutput(
  json: boolean,
  write: (s: string) => void = (s) => process.stdout.write(s),
): Output {
  return {
    json,
    info: (line) => {
      if (!json) write(`${line}\n`);
    },
    result: (value, human) => {
      if (json) write(`${JSON.stringify({ schemaVersion, ...value })}\n`);
      else human();
    },
    event: (value) => {
      if (json) write(`${JSON.stringify({ schemaVersion, ...value })}\n`);
    },
  };
}

/** Usage errors (bad flags or values) exit 2, a stop by a signal 128 + its number, anything else 1. */
export function exitCodeFor(e: unknown): number {
  const exitCode = (e as { exitCode?: unknown } | undefined)?.exitCode;
  if (typeof exitCode === 'number') return exitCode;
  // Usage errors (the command line itself is wrong) exit 2, everything else 1.
  return e instanceof LatError && ['BAD_INPUT', 'BAD_LENGTHS', 'BAD_BUDGET'].includes(e.code) ? 2 : 1;
}

export function table(rows: (string | number)[][], header: string[]): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => c.padStart(widths[i]!)).join('  ');
  return [line(cells[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join(
    '\n',
  );
}
