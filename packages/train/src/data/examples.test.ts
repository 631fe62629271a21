import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isLatError } from '@lat/core';
import { describe, expect, it } from 'vitest';
import { readExamples } from './examples.js';
import { getTask } from './tasks.js';

const dir = mkdtempSync(join(tmpdir(), 'lat-data-'));
function file(name: string, text: string) {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

describe('readExamples', () => {
  it('reads GLUE tsv with headers (SST-2, MRPC) and headerless CoLA', () => {
    const sst = readExamples(
      file('sst.tsv', 'sentence\tlabel\na fine film \t1\nawful\t0\n'),
      getTask('sst2'),
    );
    expect(sst.examples.map((e) => [e.textA, e.label])).toEqual([
      ['a fine film ', 1],
      ['awful', 0],
    ]);
    const mrpc = readExamples(
      file('mrpc.tsv', 'Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\t1\t2\tHe ran.\tHe was running.\n'),
      getTask('mrpc'),
    );
    expect(mrpc.examples[0]).toMatchObject({ textA: 'He ran.', textB: 'He was running.', label: 1 });
    const cola = readExamples(file('cola.tsv', 'gj04\t0\t*\tThe more we study.\n'), getTask('cola'));
    expect(cola.examples[0]).toMatchObject({ textA: 'The more we study.', label: 0 });
  });

  it('reads jsonl and quoted csv, STS-B scores as numbers', () => {
    const j = readExamples(
      file('d.jsonl', '{"text":"good","label":"1"}\n\n{"text":"bad","label":0}\n'),
      getTask('sst2'),
    );
    expect(j.examples.map((e) => e.label)).toEqual([1, 0]);
    const c = readExamples(file('d.csv', 'sentence,label\n"a, ""quoted""\nline",1\n'), getTask('sst2'));
    expect(c.examples[0]!.textA).toBe('a, "quoted"\nline');
    const s = readExamples(
      file('sts.jsonl', '{"sentence1":"a","sentence2":"b","score":"3.8"}\n'),
      getTask('sts-b'),
    );
    expect(s.examples[0]!.label).toBeCloseTo(3.8);
  });

  it('names file:line for bad rows, or counts them when asked to skip', () => {
    const p = file('bad.tsv', 'sentence\tlabel\nok\t1\n\t1\nfine\t7\nno label\n');
    try {
      readExamples(p, getTask('sst2'));
      expect.unreachable();
    } catch (e) {
      expect(isLatError(e, 'BAD_DATA')).toBe(true);
      expect((e as Error).message).toContain(`${p}:3: empty text`);
    }
    const r = readExamples(p, getTask('sst2'), { onBadRow: 'skip' });
    expect(r.examples).toHaveLength(1);
    expect(r.skipped).toBe(3);
    expect(r.skipReasons[1]).toContain(`${p}:4: unknown label '7'; sst2 labels are 0, 1`);
    expect(r.skipReasons[2]).toContain(`${p}:5: missing label column 'label'`);
    expect(() => readExamples(join(dir, 'nope.tsv'), getTask('sst2'))).toThrow(/nope.tsv: cannot read/);
    expect(() => getTask('imdb')).toThrow(/unknown task 'imdb'/);
  });
});

const sst2Dev = join(import.meta.dirname, '../../../../../shared/fixtures/glue/SST-2/dev.tsv');
describe.skipIf(!existsSync(sst2Dev))('real GLUE SST-2 dev (../shared/fixtures)', () => {
  it('reads all 872 examples', () => {
    const r = readExamples(sst2Dev, getTask('sst2'));
    expect(r.examples).toHaveLength(872);
    expect(r.skipped).toBe(0);
  });
});
if (!existsSync(sst2Dev)) console.log(`skipping real SST-2 test: ${sst2Dev} is absent`);
