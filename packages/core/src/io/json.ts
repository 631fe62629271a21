import { readFileSync } from 'node:fs';
import { LatError } from '../errors.js';

/** Reads a JSON file; a missing or malformed file is a LatError naming it. */
export function readJson(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new LatError('NOT_FOUND', `cannot read (${(e as Error).message})`, path);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new LatError('BAD_FILE', `not valid JSON (${(e as Error).message})`, path);
  }
}
