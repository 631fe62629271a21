/**
 * Model folders users already have on disk: a Hugging Face hub cache entry
 * (`~/.cache/huggingface/hub/models--org--name`, whose files live in `snapshots/<commit>/`), and
 * the ONNX-only repositories transformers.js uses, which lat cannot fine-tune or rebuild.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LatError } from '../errors.js';

/**
 * The folder that holds a model's files: `dir` itself, or for a hub cache entry the snapshot that
 * `refs/main` names (else its only snapshot). A snapshot folder can also be passed directly.
 */
export function resolveModelDir(dir: string): string {
  const snapshots = join(dir, 'snapshots');
  if (existsSync(join(dir, 'config.json')) || !existsSync(snapshots)) return dir;
  const ref = join(dir, 'refs', 'main');
  const main = existsSync(ref) ? readFileSync(ref, 'utf8').trim() : undefined;
  if (main && existsSync(join(snapshots, main))) return join(snapshots, main);
  const all = readdirSync(snapshots);
  if (all.length === 1) return join(snapshots, all[0]!);
  throw new LatError(
    'NOT_FOUND',
    all.length
      ? `a Hugging Face cache folder with ${all.length} snapshots and no refs/main: pass one of ${all.map((s) => join(snapshots, s)).join(', ')}`
      : 'a Hugging Face cache folder without any snapshot: download the model first (e.g. `huggingface-cli download <org>/<name>`)',
    dir,
  );
}

/** When `dir` is an ONNX-only repository (transformers.js layout), what to provide instead. */
export function onnxOnlyHint(dir: string): string | undefined {
  const onnxDir = join(dir, 'onnx');
  const files = [
    ...(existsSync(onnxDir) ? readdirSync(onnxDir).map((f) => `onnx/${f}`) : []),
    ...readdirSync(dir),
  ].filter((f) => f.endsWith('.onnx'));
  if (!files.length) return undefined;
  return `this is an ONNX-only model (${files[0]}, the transformers.js layout): lat builds its own graphs from the original weights, so download the PyTorch checkpoint of the same model instead — the repository transformers.js converted it from (e.g. Xenova/bert-base-uncased → google-bert/bert-base-uncased), with config.json, vocab.txt and model.safetensors or pytorch_model.bin`;
}
