#!/usr/bin/env node
// The consumer job: lat as a stranger gets it from npm. Packs every public package (each
// packages/* and apps/* without "private": true — new ones are picked up by themselves), installs
// the tarballs into an empty project with plain `npm install` (default settings, registry only),
// checks the packed metadata, type-checks and runs every README's ```ts blocks in Node, bundles the
// runtime-web example for the browser with esbuild, installs the CLI globally (`npm i -g`) and runs
// `lat --version` and `lat info`, then `npx @lat/cli demo` (short) from the tarballs.
// Conventions are in tooling/README.md. Usage: node tooling/scripts/consumer.mjs [--report file.json]
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const repo = resolve(import.meta.dirname, '../..');
const work = mkdtempSync(join(tmpdir(), 'lat-consumer-'));
const keep = process.argv.includes('--keep');
const reportFlag = process.argv.indexOf('--report');
const reportAt = reportFlag > 0 ? process.argv[reportFlag + 1] : undefined;
const results = [];

/**
 * npm as a stranger runs it: none of the npm_* settings pnpm exports to the scripts it runs. The
 * examples' temporary files go under `work` (TMPDIR), so removing `work` removes them too.
 */
const tmp = join(work, 'tmp');
mkdirSync(tmp);
const cleanEnv = {
  ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_|^pnpm_/i.test(k))),
  TMPDIR: tmp,
};

function run(cmd, args, { cwd = work, env = {}, timeout = 300_000 } = {}) {
  const r = spawnSync(cmd, args, {
    cwd,
    env: { ...cleanEnv, ...env },
    encoding: 'utf8',
    timeout,
    shell: false,
  });
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

async function check(name, fn) {
  const t = performance.now();
  try {
    const note = await fn();
    results.push({ name, status: note === 'skip' ? 'skipped' : 'passed' });
    console.log(`${note === 'skip' ? '-' : '✓'} ${name} (${((performance.now() - t) / 1000).toFixed(1)} s)`);
  } catch (e) {
    results.push({ name, status: 'failed' });
    console.log(`✗ ${name}\n${String(e?.message ?? e).replace(/^/gm, '    ')}`);
  }
}

function must(r, what) {
  if (!r.ok) throw new Error(`${what} failed:\n${r.out.slice(-4000)}`);
  return r.out;
}

const du = (p) => Number(run('du', ['-sb', p]).out.split('\t')[0]);
const mb = (bytes) => `${(bytes / 1e6).toFixed(1)} MB`;

// ---- the public packages -------------------------------------------------------------------
const publicPackages = ['packages', 'apps']
  .flatMap((d) => readdirSync(join(repo, d)).map((n) => join(repo, d, n)))
  .filter((dir) => existsSync(join(dir, 'package.json')))
  .map((dir) => ({ dir, pkg: JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) }))
  .filter(({ pkg }) => !pkg.private);
const tarballs = join(work, 'tarballs');
const project = join(work, 'project');
const env = { LAT_EXAMPLE_MODEL: join(work, 'tiny-model'), LAT_EXAMPLE_BUNDLE: join(work, 'tiny-bundle') };
let hasCli;
const robertaDir = join(work, 'tiny-roberta');

/** The tarball `pnpm pack` names a package's: @lat/core@1.2.3 → lat-core-1.2.3.tgz. */
const tarballName = (pkg) => `${pkg.name.replace(/^@/, '').replace('/', '-')}-${pkg.version}.tgz`;

await check(
  `pnpm -r pack; the ${publicPackages.length} public packages: ${publicPackages.map((p) => p.pkg.name).join(', ')}`,
  () => {
    const all = join(work, 'all-tarballs');
    must(
      run('npx', ['-y', 'pnpm@10.34.8', '-r', 'pack', '--pack-destination', all], { cwd: repo }),
      'pnpm -r pack',
    );
    mkdirSync(tarballs);
    for (const { pkg } of publicPackages)
      renameSync(join(all, tarballName(pkg)), join(tarballs, tarballName(pkg)));
    hasCli = publicPackages.some((p) => p.pkg.name === '@lat/cli');
  },
);

await check(
  'packed metadata: license + LICENSE, engines, repository, README, no @lat/source, no workspace: ranges',
  () => {
    const problems = [];
    for (const file of readdirSync(tarballs)) {
      const dir = join(work, 'unpacked', file);
      mkdirSync(dir, { recursive: true });
      must(run('tar', ['-xzf', join(tarballs, file), '-C', dir]), `tar ${file}`);
      const text = readFileSync(join(dir, 'package/package.json'), 'utf8');
      const pkg = JSON.parse(text);
      const missing = ['license', 'engines', 'repository', 'files', 'sideEffects'].filter(
        (k) => pkg[k] === undefined,
      );
      if (missing.length) problems.push(`${file}: package.json has no ${missing.join(', ')}`);
      for (const f of ['LICENSE', 'README.md'])
        if (!existsSync(join(dir, 'package', f))) problems.push(`${file}: no ${f}`);
      if (text.includes('@lat/source'))
        problems.push(`${file}: the in-repo @lat/source condition was published`);
      if (text.includes('workspace:')) problems.push(`${file}: a workspace: range was published`);
      if (pkg.dependencies?.['onnxruntime-node'])
        problems.push(`${file}: onnxruntime-node is a dependency (its install script would run)`);
    }
    if (problems.length) throw new Error(problems.join('\n'));
  },
);

await check(
  'fixtures: a tiny Hugging Face model dir and an exported bundle (LAT_EXAMPLE_MODEL, LAT_EXAMPLE_BUNDLE), a tiny RoBERTa dir',
  async () => {
    const testing = await import(pathToFileURL(join(repo, 'packages/layers/dist/testing/index.js')).href);
    const vocab = [
      '[PAD]',
      '[UNK]',
      '[CLS]',
      '[SEP]',
      '[MASK]',
      'a',
      'great',
      'dull',
      'film',
      'story',
      'the',
      'was',
      '.',
      ',',
    ];
    // Both heads, so classification and question-answering examples can share the model.
    const model = testing.tinyModel({ vocab, hidden: 16, numHeads: 2, seed: 1, std: 0.02 });
    testing.writeModelDir(env.LAT_EXAMPLE_MODEL, model);
    testing.writeBundle(env.LAT_EXAMPLE_BUNDLE, model, { task: 'classification', fingerprint: '0' });
    // A RoBERTa with a byte-level BPE tokenizer.json, for the export check of the global lat.
    testing.writeModelDir(robertaDir, testing.tinyModel({ architecture: 'roberta', seed: 1 }));
  },
);

const tgz = () => readdirSync(tarballs).map((f) => join(tarballs, f));

await check(
  'npm install <tarballs> into an empty project, default npm settings (no onnxruntime-node install script)',
  () => {
    mkdirSync(project);
    writeFileSync(
      join(project, 'package.json'),
      JSON.stringify({ name: 'lat-consumer', private: true, type: 'module' }),
    );
    must(run('npm', ['install', '--no-audit', '--no-fund', ...tgz()], { cwd: project }), 'npm install');
    if (existsSync(join(project, 'node_modules/onnxruntime-node')))
      throw new Error('onnxruntime-node was installed: it must stay an optional peer dependency');
  },
);

await check(
  '@lat/runtime-node without its optional peer: a LatError saying how to install onnxruntime-node',
  () => {
    const probe = `import { createNodeRuntime } from '@lat/runtime-node';
try { createNodeRuntime(); console.log('no error'); } catch (e) { console.log(e.name, e.code, e.message); }`;
    writeFileSync(join(project, 'probe.mjs'), probe);
    const out = must(run(process.execPath, ['probe.mjs'], { cwd: project }), 'probe');
    if (!/LatError NOT_FOUND .*ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node/.test(out))
      throw new Error(`unexpected: ${out}`);
  },
);

await check(
  'the peer dependencies as the READMEs say: ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node',
  () => {
    must(
      run('npm', ['install', '--no-audit', '--no-fund', 'onnxruntime-node@^1.30.0'], {
        cwd: project,
        env: { ONNXRUNTIME_NODE_INSTALL: 'skip' },
      }),
      'npm install onnxruntime-node',
    );
    // Tools the harness itself needs: the TypeScript compiler for the examples, esbuild for the browser build.
    must(
      run(
        'npm',
        [
          'install',
          '--no-audit',
          '--no-fund',
          '-D',
          'typescript@~5.9.3',
          '@types/node@^20.19.0',
          'esbuild@^0.25.0',
        ],
        { cwd: project },
      ),
      'npm install tools',
    );
  },
);

/** Every ```ts block of every public package's README, one example file each. */
const examples = publicPackages.flatMap(({ dir, pkg }) => {
  const readme = join(dir, 'README.md');
  if (!existsSync(readme)) return [];
  const blocks = [...readFileSync(readme, 'utf8').matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
  return blocks.map((code, i) => ({
    pkg: pkg.name,
    file: `${pkg.name.replace(/^@lat\//, '')}-${i + 1}.ts`,
    code,
  }));
});

await check(`README examples type-check under strict TypeScript (${examples.length} blocks)`, () => {
  const dir = join(project, 'examples');
  mkdirSync(dir);
  for (const e of examples) writeFileSync(join(dir, e.file), e.code);
  writeFileSync(
    join(project, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        outDir: 'dist',
        types: ['node'],
        skipLibCheck: false,
        lib: ['ES2023', 'DOM'],
      },
      include: ['examples'],
    }),
  );
  must(run(process.execPath, ['node_modules/typescript/bin/tsc', '-p', '.'], { cwd: project }), 'tsc');
});

for (const e of examples) {
  await check(`README example ${e.file} (${e.pkg}) runs in Node`, () => {
    const js = join(project, 'dist', e.file.replace(/\.ts$/, '.js'));
    must(run(process.execPath, [js], { cwd: project, env, timeout: 120_000 }), e.file);
  });
}

await check(
  'the pnpm path: pnpm install of the tarballs (no dependency install scripts), the examples run',
  () => {
    const dir = join(work, 'pnpm-project');
    mkdirSync(dir);
    // Tarballs are not on a registry: point every @lat/* dependency at its tarball.
    const local = Object.fromEntries(
      publicPackages.map(({ pkg }) => [pkg.name, `file:${join(tarballs, tarballName(pkg))}`]),
    );
    writeFileSync(
      join(dir, 'package.json'),
      JSON.stringify({
        name: 'lat-consumer-pnpm',
        private: true,
        type: 'module',
        dependencies: { ...local, 'onnxruntime-node': '^1.30.0' },
        pnpm: { overrides: local },
      }),
    );
    must(run('npx', ['-y', 'pnpm@10.34.8', 'install'], { cwd: dir }), 'pnpm install');
    for (const e of examples) {
      const js = join(dir, e.file.replace(/\.ts$/, '.js'));
      writeFileSync(js, readFileSync(join(project, 'dist', e.file.replace(/\.ts$/, '.js'))));
      must(run(process.execPath, [js], { cwd: dir, env, timeout: 120_000 }), `${e.file} (pnpm)`);
    }
  },
);

await check(
  'esbuild browser bundle of the runtime-web example (no Node built-ins, no onnxruntime-node)',
  () => {
    const example = examples.find((e) => e.pkg === '@lat/runtime-web');
    if (!example) throw new Error('@lat/runtime-web has no ```ts example');
    const out = join(work, 'browser.js');
    must(
      run(
        join(project, 'node_modules/.bin/esbuild'),
        [
          join('examples', example.file),
          '--bundle',
          '--format=esm',
          '--platform=browser',
          '--minify',
          `--outfile=${out}`,
          `--metafile=${out}.meta.json`,
        ],
        { cwd: project },
      ),
      'esbuild',
    );
    const inputs = Object.keys(JSON.parse(readFileSync(`${out}.meta.json`, 'utf8')).inputs);
    const bad = inputs.filter((i) => /onnxruntime-node|protobufjs|onnx-proto/.test(i));
    if (bad.length) throw new Error(`the browser bundle pulls ${bad.join(', ')}`);
    console.log(`    browser bundle: ${(statSync(out).size / 1024).toFixed(1)} KB minified`);
  },
);

await check(
  'npm i -g of the CLI tarball (temp prefix), then lat --version and lat info on a tiny model',
  () => {
    if (!hasCli) throw new Error('no @lat/cli tarball');
    const prefix = join(work, 'global');
    must(
      run('npm', ['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', ...tgz()], { cwd: work }),
      'npm i -g',
    );
    const lat = join(prefix, 'bin', 'lat');
    const version = must(run(lat, ['--version']), 'lat --version').trim();
    const expected = JSON.parse(readFileSync(join(repo, 'apps/cli/package.json'), 'utf8')).version;
    if (version !== expected) throw new Error(`lat --version printed ${version}, expected ${expected}`);
    const info = must(run(lat, ['info', '--model', env.LAT_EXAMPLE_MODEL]), 'lat info');
    if (!/2 layers|layers\s+2/.test(info)) throw new Error(`lat info printed:\n${info}`);
  },
);

await check(
  'the global lat without onnxruntime-node: lat predict runs on the wasm fallback and says so',
  () => {
    const r = run(join(work, 'global/bin/lat'), [
      'predict',
      '--model',
      env.LAT_EXAMPLE_MODEL,
      'a great film .',
    ]);
    must(r, 'lat predict');
    if (!/running on onnxruntime-web \(wasm/.test(r.out) || !/negative|positive/.test(r.out))
      throw new Error(`unexpected output:\n${r.out}`);
  },
);

await check(
  'the global lat: lat export of a RoBERTa model (BPE tokenizer.json), and its bundle predicts what the directory does',
  () => {
    const lat = (args) => must(run(join(work, 'global/bin/lat'), args), `lat ${args[0]}`);
    const bundle = join(work, 'tiny-roberta-bundle');
    lat(['export', '--model', robertaDir, '--out', bundle]);
    const tokenizer = JSON.parse(readFileSync(join(bundle, 'lat.json'), 'utf8')).tokenizer;
    if (tokenizer.type !== 'bpe') throw new Error(`lat.json's tokenizer is ${tokenizer.type}, not bpe`);
    const predict = (m) =>
      JSON.parse(lat(['predict', '--model', m, '--json', 'a gripping film']).replace(/^lat: .*\n/gm, ''))
        .predictions[0];
    const [a, b] = [predict(robertaDir), predict(bundle)];
    if (a.tokens[0] !== '<s>' || a.tokens.join() !== b.tokens.join() || a.label !== b.label)
      throw new Error(`the bundle predicts ${JSON.stringify(b)}, the directory ${JSON.stringify(a)}`);
  },
);

await check(
  'npx @lat/cli demo from the tarballs (1 epoch, 1 search iteration) with onnxruntime-node next to it',
  () => {
    const packages = [...tgz(), 'onnxruntime-node@^1.30.0'].flatMap((t) => ['--package', t]);
    const args = [
      '--yes',
      ...packages,
      'lat',
      'demo',
      '--epochs',
      '1',
      '--iterations',
      '1',
      '--out',
      join(work, 'demo'),
    ];
    const out = must(
      run('npx', args, { cwd: work, env: { ONNXRUNTIME_NODE_INSTALL: 'skip' }, timeout: 600_000 }),
      'npx @lat/cli demo',
    );
    if (/onnxruntime-web \(wasm/.test(out))
      throw new Error('the demo ran on the wasm fallback, not onnxruntime-node');
    if (!existsSync(join(work, 'demo/bundle/model.onnx')))
      throw new Error(`no bundle written:\n${out.slice(-2000)}`);
    console.log(
      out
        .split('\n')
        .filter((l) => /frontier \(|done in/.test(l))
        .map((l) => `    ${l}`)
        .join('\n'),
    );
  },
);

const sizes = existsSync(join(project, 'node_modules')) ? du(join(project, 'node_modules')) : 0;
if (sizes)
  console.log(
    `consumer node_modules: ${mb(sizes)} (onnxruntime-node ${mb(du(join(project, 'node_modules/onnxruntime-node')))}, onnxruntime-web ${mb(du(join(project, 'node_modules/onnxruntime-web')))})`,
  );

const count = (s) => results.filter((r) => r.status === s).length;
const totals = { passed: count('passed'), failed: count('failed'), skipped: count('skipped') };
console.log(`consumer job: ${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
if (reportAt) writeFileSync(reportAt, JSON.stringify(totals));
if (!keep) rmSync(work, { recursive: true, force: true });
else console.log(`kept ${work}`);
process.exit(totals.failed ? 1 : 0);
