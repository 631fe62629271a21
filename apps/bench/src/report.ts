/** The markdown report a bench run writes: sections append lines, the run saves after each one. */
import { writeFileSync } from 'node:fs';

export class Report {
  private readonly lines: string[] = [];

  push(...lines: string[]): void {
    this.lines.push(...lines);
  }

  /** Writes what was measured so far (a failing section keeps the ones before it). */
  save(file: string): void {
    writeFileSync(file, `${this.lines.join('\n')}\n`);
  }
}

/** A number with `d` decimals, or – when it was not measured. */
export const fmt = (x: number | undefined, d = 2) => (x === undefined ? '–' : x.toFixed(d));
