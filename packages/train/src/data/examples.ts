import { readFileSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { LatError } from '@lat/core';
import { isRegression, type TaskSpec } from './tasks.js';

/** One labelled example; `label` is a class id, or the score for regression. */
export interface Example {
  textA: string;
  textB?: string;
  label: number;
  /** file:line it came from, for messages. */
  source: string;
}

/** How to treat malformed rows: stop (default) or skip and count them. */
export interface ReadOptions {
  /** 'error' (default) stops at the first bad row; 'skip' counts it and goes on. */
  onBadRow?: 'error' | 'skip';
}

/** Examples read from a file, and how many rows were skipped. */
export interface ReadResult {
  examples: Example[];
  skipped: number;
  /** The first few skip reasons, for a summary line. */
  skipReasons: string[];
  /** Byte sequences that were not UTF-8 and were read as U+FFFD (readExamples only). */
  invalidUtf8?: number;
}

/** Reads GLUE tsv, csv (header row) or jsonl (one object per line), by file extension. */
export function readExamples(path: string, task: TaskSpec, options: ReadOptions = {}): ReadResult {
  const file = readDataFile(path);
  return { ...parseExamples(file.text, path, task, options), invalidUtf8: file.invalidUtf8 };
}

/** A data file's text, as read. */
export interface DataFile {
  text: string;
  /** Byte sequences that were not UTF-8, read as U+FFFD: worth a warning, the text is damaged. */
  invalidUtf8: number;
}

/** A data file's text, or an error naming the file. */
export function readDataFile(path: string): DataFile {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new LatError('NOT_FOUND', `cannot read data file (${(e as Error).message}); check the path`, path);
  }
  const text = bytes.toString('utf8');
  return { text, invalidUtf8: count(text, '\uFFFD') - countBytes(bytes, Buffer.from('\uFFFD')) };
}

function count(text: string, c: string): number {
  let n = 0;
  for (let i = text.indexOf(c); i >= 0; i = text.indexOf(c, i + 1)) n++;
  return n;
}

function countBytes(bytes: Buffer, seq: Buffer): number {
  let n = 0;
  for (let i = bytes.indexOf(seq); i >= 0; i = bytes.indexOf(seq, i + seq.length)) n++;
  return n;
}

/** readExamples on text already read from `path` (whose extension picks the format). */
export function parseExamples(
  text: string,
  path: string,
  task: TaskSpec,
  options: ReadOptions = {},
): ReadResult {
  const ext = extname(path).toLowerCase();
  // A byte-order mark (Excel's UTF-8 export) would stick to the first column's name.
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const rows =
    ext === '.jsonl' ? jsonlRows(text, path) : delimitedRows(text, ext === '.csv' ? ',' : '\t', path, task);
  const result: ReadResult = { examples: [], skipped: 0, skipReasons: [] };
  for (const row of rows) {
    try {
      result.examples.push(toExample(row, task));
    } catch (e) {
      if (options.onBadRow !== 'skip' || !(e instanceof LatError)) throw e;
      result.skipped++;
      if (result.skipReasons.length < 5) result.skipReasons.push(e.message);
    }
  }
  if (result.examples.length === 0) {
    throw new LatError('BAD_DATA', `no usable examples (${result.skipped} rows skipped)`, basename(path));
  }
  return result;
}

interface Row {
  fields: Record<string, unknown>;
  where: string;
}

function jsonlRows(text: string, path: string): Row[] {
  const rows: Row[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (!line) continue;
    const where = `${path}:${i + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new LatError('BAD_DATA', 'not valid JSON; each line of a .jsonl file must be one object', where);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new LatError('BAD_DATA', 'expected a JSON object per line', where);
    }
    rows.push({ fields: value as Record<string, unknown>, where });
  }
  return rows;
}

function delimitedRows(text: string, sep: ',' | '\t', path: string, task: TaskSpec): Row[] {
  const records = sep === ',' ? parseCsv(text) : parseTsv(text);
  let header = task.headerless;
  let first = 0;
  if (!header) {
    header = records[0]?.cells;
    first = 1;
    if (!header) throw new LatError('BAD_DATA', 'the file is empty', path);
  }
  const rows: Row[] = [];
  for (let r = first; r < records.length; r++) {
    const { cells, line } = records[r]!;
    if (cells.length === 1 && cells[0] === '') continue;
    const fields: Record<string, unknown> = {};
    header.forEach((name, i) => {
      if (i < cells.length) fields[name] = cells[i];
    });
    rows.push({ fields, where: `${path}:${line}` });
  }
  return rows;
}

interface Record_ {
  cells: string[];
  line: number;
}

/** GLUE tsv files are not quoted: a tab separates, a newline ends a row. */
function parseTsv(text: string): Record_[] {
  return text
    .split(/\r?\n/)
    .map((l, i) => ({ cells: l.split('\t'), line: i + 1 }))
    .filter((r, i, all) => i < all.length - 1 || r.cells.join('') !== '');
}

/** RFC 4180 csv: quoted fields may hold commas, quotes ("") and newlines. */
function parseCsv(text: string): Record_[] {
  const out: Record_[] = [];
  let cells: string[] = [];
  let cell = '';
  let quoted = false;
  let line = 1;
  let rowLine = 1;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else {
        if (c === '\n') line++;
        cell += c;
      }
    } else if (c === '"' && cell === '') quoted = true;
    else if (c === ',') {
      cells.push(cell);
      cell = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      cells.push(cell);
      out.push({ cells, line: rowLine });
      cells = [];
      cell = '';
      line++;
      rowLine = line;
    } else cell += c;
  }
  if (cell !== '' || cells.length) {
    cells.push(cell);
    out.push({ cells, line: rowLine });
  }
  return out;
}

/** jsonl and csv files may use these generic names instead of the GLUE columns. */
const genericText = ['text', 'sentence', 'text_a'];
const genericTextB = ['text_pair', 'text_b', 'sentence2'];

function field(row: Row, names: string[]): unknown {
  for (const n of names) if (row.fields[n] !== undefined) return row.fields[n];
  return undefined;
}

function toExample(row: Row, task: TaskSpec): Example {
  const [colA, colB] = task.textColumns;
  const textA = field(row, [colA, ...genericText]);
  if (typeof textA !== 'string') {
    throw new LatError('BAD_DATA', `missing text column '${colA}'`, row.where);
  }
  if (!textA.trim()) throw new LatError('BAD_DATA', `empty text in column '${colA}'`, row.where);
  let textB: string | undefined;
  if (colB) {
    const b = field(row, [colB, ...genericTextB]);
    if (typeof b !== 'string') throw new LatError('BAD_DATA', `missing text column '${colB}'`, row.where);
    if (!b.trim()) throw new LatError('BAD_DATA', `empty text in column '${colB}'`, row.where);
    textB = b;
  }
  const raw = field(row, [task.labelColumn, 'label']);
  if (raw === undefined || raw === '') {
    throw new LatError('BAD_DATA', `missing label column '${task.labelColumn}'`, row.where);
  }
  let label: number;
  if (isRegression(task)) {
    label = Number(raw);
    if (!Number.isFinite(label)) throw new LatError('BAD_DATA', `label '${raw}' is not a number`, row.where);
  } else {
    label = task.labels.indexOf(String(raw));
    if (label < 0) {
      throw new LatError(
        'BAD_DATA',
        `unknown label '${String(raw)}'; ${task.name} labels are ${task.labels.join(', ')}`,
        row.where,
      );
    }
  }
  return { textA, ...(textB !== undefined ? { textB } : {}), label, source: row.where };
}
