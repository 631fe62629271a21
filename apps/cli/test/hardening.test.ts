/**
 * What an adversarial user found (issue 18), through the built `lat` binary: long arguments,
 * configs that disagree with their weights, tiny files claiming huge tensors, broken SQuAD files,
 * interrupted or concurrent training runs, altered caches, signals, and the smaller usage paths.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  writeFileSync,
} from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSafetensors } from '@lat/core/node';
import { statePickle, zipOf } from '@lat/core/testing';
import { createRandomWeights, toHfConfig, toHfNames } from '@lat/layers';
import { generateSentimentTask, syntheticModelConfig } from '@lat/train';
import { beforeAll, describe, expect, it } from 'vitest';
import { cliBin, cliRoot, ensureBuilt, lat as latRun, sentimentTraining } from './fixture.js';
import { signalAtFirstStep } from './signal.js';

const dir = mkdtempSync(join(tmpdir(), 'lat-hard-'));
const base = join(dir, 'base');
const task = generateSentimentTask({ seed: 4, train: 160, dev: 40 });
const config = syntheticModelConfig({ layers: 2, hidden: 16, heads: 2 });
const hfConfig = toHfConfig(config);

const lat = (args: string[], input?: string) => latRun(args, input, 60_000);

/** A model directory with `config` (patched) and `weights`. */
function modelDir(
  name: string,
  patch: Record<string, unknown> = {},
  weights = createRandomWeights(config, 1),
) {
  const d = join(dir, name);
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, 'config.json'), JSON.stringify({ ...hfConfig, ...patch }));
  writeFileSync(join(d, 'vocab.txt'), `${task.vocab.join('\n')}\n`);
  writeSafetensors(join(d, 'model.safetensors'), toHfNames(weights, config));
  return d;
}

const tsv = (rows: typeof task.train) =>
  `sentence\tlabel\n${rows.map((e) => `${e.textA}\t${e.label}`).join('\n')}\n`;
const trainArgs = (out: string, ...more: string[]) => [
  'train',
  ...sentimentTraining(dir, base),
  '--out',
  out,
  '--epochs',
  '2',
  '--max-length',
  '32',
  '--lr',
  '1e-3',
  ...more,
];

beforeAll(() => {
  ensureBuilt(cliRoot);
  writeFileSync(join(dir, 'train.tsv'), tsv(task.train));
  writeFileSync(join(dir, 'dev.tsv'), tsv(task.dev));
  modelDir('base');
}, 120_000);

describe('issue 18: nothing lost, nothing crashes', () => {
  it('1: refuses a command line long enough to crash onnxruntime; --text-file / --context-file (- = stdin) take long text', () => {
    const long = 'the film is great . '.repeat(1500); // 30 KB: onnxruntime-node's telemetry segfaulted (139)
    const r = lat(['predict', '--model', base, long]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/command line is \d+ bytes.*--text-file FILE, --context-file FILE/);
    writeFileSync(join(dir, 'long.txt'), `${long}\nit is dull .\n`);
    const fromFile = lat(['predict', '--model', base, '--text-file', join(dir, 'long.txt'), '--json']);
    expect(fromFile.code, fromFile.err).toBe(0);
    expect(JSON.parse(fromFile.out).predictions.map((p: { text: string }) => p.text)).toEqual([
      long.trim(),
      'it is dull .',
    ]);
    const fromStdin = lat(['predict', '--model', base, '--text-file', '-', '--json'], `${long}\n`);
    expect(fromStdin.code, fromStdin.err).toBe(0);
    expect(JSON.parse(fromStdin.out).predictions).toHaveLength(1);
    // A span model answers about a 30 KB context read from stdin.
    const qa = modelDir('qa');
    writeFileSync(join(qa, 'lat_training.json'), JSON.stringify({ task: 'squad', maxLength: 64 }));
    const answer = lat(['predict', '--model', qa, '--context-file', '-', '--json', 'what is it'], long);
    expect(answer.code, answer.err).toBe(0);
    expect(JSON.parse(answer.out).answers).toHaveLength(1);
  });

  it('2: weights with tensors the config has no place for are an error (or a warning with --allow-unused)', () => {
    const fewer = modelDir('fewer-layers', { num_hidden_layers: 1 });
    const r = lat(['predict', '--model', fewer, 'a great film']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(
      /model.safetensors: the weights have tensors config.json has no place for: .*encoder.layer.1/,
    );
    const allowed = lat(['predict', '--model', fewer, '--allow-unused', 'a great film']);
    expect(allowed.code, allowed.err).toBe(0);
    expect(allowed.err).toMatch(/warning: .*ignoring 16 tensors/);
    const noTypes = lat(['predict', '--model', modelDir('no-types', { type_vocab_size: 0 }), 'a great film']);
    expect(noTypes.code).toBe(1);
    expect(noTypes.err).toMatch(/token_type_embeddings/);
  });

  it('3: a broken layer_norm_eps or NaN weights give an error naming the cause, not NaN%', () => {
    const eps = lat([
      'predict',
      '--model',
      modelDir('eps', { layer_norm_eps: -1 }),
      '--json',
      'a great film',
    ]);
    expect(eps.code).toBe(1);
    expect(eps.err).toMatch(/config.json#layer_norm_eps: must be a small positive number/);
    const w = createRandomWeights(config, 1);
    w.get('classifier.weight')!.data[0] = Number.NaN;
    const nan = lat(['predict', '--model', modelDir('nan', {}, w), '--json', 'a great film']);
    expect(nan.code).toBe(1);
    expect(nan.err).toMatch(/the model computed NaN.*weights or config.json/);
    expect(nan.out).toBe('');
  });

  it('4: tiny files that claim huge sizes fail at once, before allocating', () => {
    // The issue measured 34–93 s and up to 16 GB per file; now each is refused before any allocation.
    for (const [patch, field] of [
      [{ num_labels: 1e9 }, 'num_labels'],
      [{ num_hidden_layers: 1e8 }, 'num_hidden_layers'],
      [{ vocab_size: 2 ** 40 }, 'vocab_size'],
    ] as const) {
      const r = lat(['predict', '--model', modelDir(`huge-${field}`, patch), 'hi']);
      expect(r.code).toBe(1);
      expect(r.err).toMatch(new RegExp(`config.json#${field}: .* is beyond what lat supports`));
    }
    // A 1 KB pytorch_model.bin whose tensor claims [65536, 65536] with stride 0.
    const binDir = join(dir, 'huge-bin');
    mkdirSync(binDir);
    writeFileSync(join(binDir, 'config.json'), JSON.stringify(hfConfig));
    writeFileSync(join(binDir, 'vocab.txt'), task.vocab.join('\n'));
    const pkl = statePickle([{ name: 'w', key: '0', size: [65536, 65536], stride: [0, 0] }]);
    writeFileSync(
      join(binDir, 'pytorch_model.bin'),
      zipOf([
        ['a/data.pkl', pkl],
        ['a/data/0', Buffer.alloc(4)],
      ]),
    );
    const r = lat(['predict', '--model', binDir, 'hi']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(
      /pytorch_model.bin#w: tensor view \[65536,65536\] has 4294967296 elements but its storage only 1/,
    );
  });

  it('5: a SQuAD question without answers is scored as unanswerable, never -Infinity', () => {
    const data = {
      version: '1.1',
      data: [
        {
          title: 't',
          paragraphs: [
            {
              context: 'The Broncos won in Denver.',
              qas: [
                { id: 'q1', question: 'who?', answers: [{ text: 'The Broncos', answer_start: 0 }] },
                { id: 'q2', question: 'why?', answers: [] },
              ],
            },
          ],
        },
      ],
    };
    writeFileSync(join(dir, 'squad.json'), JSON.stringify(data));
    writeFileSync(join(dir, 'pred.json'), JSON.stringify({ q1: 'Broncos', q2: '' }));
    const r = lat([
      'eval',
      '--task',
      'squad',
      '--dev',
      join(dir, 'squad.json'),
      '--predictions',
      join(dir, 'pred.json'),
      '--json',
    ]);
    expect(r.code, r.err).toBe(0);
    const m = JSON.parse(r.out).metrics;
    expect(m).toMatchObject({ exact: 100, f1: 100, HasAns_total: 1, NoAns_total: 1 });
  });

  it('6: --resume finds the newest complete checkpoint after a kill between the renames, and cleans leftovers', () => {
    const out = join(dir, 'renames');
    expect(lat(trainArgs(out)).code).toBe(0); // 2 epochs of 5 steps
    // Killed between "checkpoint → checkpoint.old-<pid>" and "checkpoint.tmp-<pid> → checkpoint":
    // an older and a complete newer checkpoint are on disk, neither is called `checkpoint`.
    const ck = join(out, 'checkpoint');
    execFileSync('cp', ['-r', ck, join(out, 'checkpoint.tmp-99999')]);
    const state = JSON.parse(readFileSync(join(ck, 'trainer_state.json'), 'utf8'));
    expect(state.step).toBe(10);
    writeFileSync(join(ck, 'trainer_state.json'), JSON.stringify({ ...state, step: 4 }));
    renameSync(ck, join(out, 'checkpoint.old-99999'));
    mkdirSync(join(out, 'checkpoint.tmp-12345')); // a save killed early: no trainer_state.json
    const r = lat([...trainArgs(out), '--resume', '--json']);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out.trim().split('\n').at(-1)!).steps).toBe(10);
    expect(readdirSync(out).filter((n) => n.startsWith('checkpoint'))).toEqual(['checkpoint']);
    expect(JSON.parse(readFileSync(join(ck, 'trainer_state.json'), 'utf8')).step).toBe(10);
  });

  it('7: a second run into the same --out is refused while the first lives; a dead run’s lock is taken over', () => {
    const out = join(dir, 'locked');
    mkdirSync(out);
    const lock = (pid: number) =>
      writeFileSync(join(out, '.lat-train.lock'), JSON.stringify({ pid, host: hostname(), started: 'then' }));
    lock(process.pid); // this test process: alive
    const busy = lat(trainArgs(out));
    expect(busy.code).toBe(1);
    expect(busy.err).toMatch(new RegExp(`another lat train \\(pid ${process.pid}.*choose another --out`));
    const dead = spawnSync(process.execPath, ['-e', '0']).pid;
    lock(dead);
    const r = lat(trainArgs(out));
    expect(r.code, r.err).toBe(0);
    expect(existsSync(join(out, '.lat-train.lock'))).toBe(false);
  });

  it('7b: a run that fails before writing anything removes the --out folder it created, and only that', () => {
    const missing = (out: string) => [...trainArgs(out), '--train', join(dir, 'no-such.tsv')];
    const fresh = join(dir, 'failed-fresh');
    const r = lat(missing(join(fresh, 'nested')));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/no-such.tsv/);
    expect(existsSync(fresh)).toBe(false); // the parent it made too
    const given = join(dir, 'failed-given');
    mkdirSync(given);
    expect(lat(missing(given)).code).toBe(1);
    expect(readdirSync(given)).toEqual([]); // the user's own folder stays
  });

  it('8: --resume with other arguments or data is refused unless --force', () => {
    const out = join(dir, 'mismatch');
    expect(lat([...trainArgs(out), '--epochs', '1']).code).toBe(0);
    writeFileSync(join(dir, 'other.tsv'), tsv(task.dev));
    for (const [flag, value, key] of [
      ['--lr', '2e-3', 'learningRate'],
      ['--seed', '7', 'seed'],
      ['--batch-size', '16', 'batchSize'],
      ['--train', join(dir, 'other.tsv'), 'trainData'],
    ]) {
      const args = [...trainArgs(out), '--epochs', '1'];
      const i = args.indexOf(flag!);
      if (i >= 0) args[i + 1] = value!;
      else args.push(flag!, value!);
      const r = lat([...args, '--resume']);
      expect(r.code, `${flag}: ${r.err}`).toBe(1);
      expect(r.err).toMatch(new RegExp(`checkpoint was made by a run with other settings: .*${key} was`));
    }
    const other = modelDir('other-weights', {}, createRandomWeights(config, 2));
    const m = lat([...trainArgs(out), '--epochs', '1', '--resume'].map((a) => (a === base ? other : a)));
    expect(m.err).toMatch(/model was "/);
    const forced = lat([...trainArgs(out), '--epochs', '2', '--lr', '2e-3', '--resume', '--force']);
    expect(forced.code, forced.err).toBe(0);
  });

  it('9: a tokenised-data cache with altered token ids is rebuilt, not used', () => {
    const out = join(dir, 'cache');
    expect(lat([...trainArgs(out), '--epochs', '1']).code).toBe(0);
    const [name] = readdirSync(join(out, 'tokenized'));
    const file = join(out, 'tokenized', name!);
    const bytes = readFileSync(file);
    // Layout: 8-byte magic, u32 header length, header, then (8-aligned) labels, lengths, ids.
    const headerLength = bytes.readUInt32LE(8);
    const { count } = JSON.parse(bytes.toString('utf8', 12, 12 + headerLength));
    const ids = Math.ceil((12 + headerLength) / 8) * 8 + count * 12;
    expect(bytes.readInt32LE(ids)).toBe(2); // [CLS]
    bytes.writeInt32LE(4, ids); // another valid token id: only the checksum can tell
    writeFileSync(file, bytes);
    const r = lat([...trainArgs(out), '--epochs', '1']);
    expect(r.code, r.err).toBe(0);
    expect(r.out).not.toContain('read from the cache');
    expect(lat([...trainArgs(out), '--epochs', '1']).out).toContain('read from the cache');
  });

  it('10: SIGTERM saves a checkpoint, exits 143 and marks the output incomplete until resumed', async () => {
    const out = join(dir, 'sigterm');
    const args = [...trainArgs(out, '--batch-size', '4'), '--epochs', '3'];
    const { code, summary } = await signalAtFirstStep(cliBin, [...args, '--threads', '1'], 'SIGTERM');
    expect(code).toBe(143);
    expect(summary).toMatchObject({ command: 'train', stopped: true });
    expect(JSON.parse(readFileSync(join(out, 'checkpoint/trainer_state.json'), 'utf8')).step).toBe(
      summary.steps,
    );
    const refused = lat(['predict', '--model', out, 'a great film']);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(
      /this model is incomplete \(stopped by SIGTERM at step \d+\); finish it with lat train --resume/,
    );
    const resumed = lat([...args, '--resume']);
    expect(resumed.code, resumed.err).toBe(0);
    expect(lat(['predict', '--model', out, 'a great film']).code).toBe(0);
  }, 60_000);

  it('stops quietly when its reader goes away (lat predict … | head -1)', async () => {
    writeFileSync(
      join(dir, 'many.txt'),
      Array.from({ length: 300 }, (_, i) => `a great film ${i}`).join('\n'),
    );
    const args = ['predict', '--model', base, '--threads', '1', '--text-file', join(dir, 'many.txt')];
    const child = spawn(process.execPath, [cliBin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.stdout.once('data', () => child.stdout.destroy());
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(err).not.toMatch(/EPIPE|Unhandled/);
    expect(code).toBe(0);
  });

  it('12: the smaller paths: threads, one-line usage errors, unknown flags, paths in I/O errors, BOM, bad UTF-8, overlaps', () => {
    const threads = lat(['predict', '--model', base, '--threads', '10000', 'a great film']);
    expect(threads.code, threads.err).toBe(0);
    expect(threads.err.match(/warning: --threads 10000 is more than the \d+ cores/g)).toHaveLength(1);
    const usage = lat(['train', '--model', base]);
    expect(usage.code).toBe(2);
    expect(usage.err.trim().split('\n')).toHaveLength(1);
    const bogus = lat(['train', '--bogus']);
    expect(bogus.code).toBe(2);
    expect(bogus.err).toMatch(/--bogus: unknown option/);
    const isDir = lat([...trainArgs(join(dir, 'eisdir'))].map((a) => (a.endsWith('train.tsv') ? dir : a)));
    expect(isDir.code).toBe(1);
    expect(isDir.err).toContain(`${dir}: cannot read data file (EISDIR`);
    writeFileSync(join(dir, 'a-file'), '');
    const notDir = lat([...trainArgs(join(dir, 'a-file', 'out')), '--no-cache']);
    expect(notDir.code).toBe(1);
    expect(notDir.err).toMatch(/a-file\/out: cannot create the output directory/);
    const exported = lat(['export', '--model', base, '--out', join(dir, 'a-file')]);
    expect(exported.code).toBe(2);
    expect(exported.err).toMatch(/a-file: exists and is not a bundle directory; refusing to replace it/);
    expect(readFileSync(join(dir, 'a-file'), 'utf8')).toBe(''); // still the user's file
    // A BOM and a few bytes that are not UTF-8: trained on, with the bad bytes counted.
    const text = Buffer.concat([
      Buffer.from('\uFEFF'),
      Buffer.from(tsv(task.train).replace('great', 'gr\u0000eat')),
    ]);
    text[text.indexOf(0)] = 0xff;
    writeFileSync(join(dir, 'bom.tsv'), text);
    const bom = lat(
      trainArgs(join(dir, 'bom')).map((a) => (a.endsWith('train.tsv') ? join(dir, 'bom.tsv') : a)),
    );
    expect(bom.code, bom.err).toBe(0);
    expect(bom.out).toMatch(/bom.tsv has 1 byte sequences that are not UTF-8/);
    // Two tensors sharing bytes in a safetensors file.
    const overlap = modelDir('overlap');
    const header = JSON.stringify({
      a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
      b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
    });
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(BigInt(header.length));
    writeFileSync(
      join(overlap, 'model.safetensors'),
      Buffer.concat([length, Buffer.from(header), Buffer.alloc(12)]),
    );
    const o = lat(['predict', '--model', overlap, 'hi']);
    expect(o.code).toBe(1);
    expect(o.err).toMatch(/model.safetensors: not a valid safetensors file: tensors 'a' and 'b' overlap/);
  });
});
