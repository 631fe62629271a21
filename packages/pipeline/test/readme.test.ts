/**
 * The README's ```ts examples, as written: transpiled to JavaScript (types stripped, nothing
 * else changed), run with Node against the built package on a tiny model and bundle; and the
 * first example bundled by esbuild for the browser, which must pull no Node built-ins and not
 * onnxruntime-node — then run in Chromium on onnxruntime-web against the tiny bundle's URL.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  cpSync,
  createReadStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:http';
import { builtinModules, createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, extname, join, normalize } from 'node:path';
import { chromiumPath, headlessChromium } from '@lat/runtime-web/chromium';
import { build, transform } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';
import { writeTinyBundle, writeTinyModel } from '../src/testing/index.js';

const pkg = join(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'lat-pipeline-readme-'));
const examples = [...readFileSync(join(pkg, 'README.md'), 'utf8').matchAll(/```ts\n([\s\S]*?)```/g)].map(
  (m) => m[1]!,
);
const env = {
  ...process.env,
  LAT_EXAMPLE_MODEL: join(dir, 'model'),
  LAT_EXAMPLE_BUNDLE: join(dir, 'bundle'),
};

/** The built package must be current: rebuild it when a source file is newer than dist. */
function ensureBuilt() {
  const built = join(pkg, 'dist/index.js');
  const newest = (d: string): number =>
    Math.max(
      ...readdirSync(d).map((f) => {
        const p = join(d, f);
        return statSync(p).isDirectory() ? newest(p) : statSync(p).mtimeMs;
      }),
    );
  if (!existsSync(built) || newest(join(pkg, 'src')) > statSync(built).mtimeMs)
    execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: pkg, stdio: 'inherit' });
}

beforeAll(async () => {
  ensureBuilt();
  writeTinyModel(join(dir, 'model'));
  writeTinyBundle(join(dir, 'bundle'), 'classification');
  // The examples import '@lat/pipeline' as a user's project would.
  mkdirSync(join(dir, 'node_modules/@lat'), { recursive: true });
  symlinkSync(pkg, join(dir, 'node_modules/@lat/pipeline'), 'dir');
  for (const [i, code] of examples.entries()) {
    writeFileSync(join(dir, `example-${i}.ts`), code);
    const js = await transform(code, { loader: 'ts', format: 'esm', target: 'node20' });
    writeFileSync(join(dir, `example-${i}.mjs`), js.code);
  }
}, 120_000);

describe('README examples', () => {
  it('has the classification, question-answering, bundle and q8 examples', () => {
    expect(examples).toHaveLength(4);
  });

  it('the examples type-check with tsc --strict, as a user project would', () => {
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          target: 'ES2022',
          lib: ['ES2023', 'DOM'],
          types: ['node'],
          typeRoots: [join(pkg, '../../node_modules/@types')],
          skipLibCheck: true,
          noEmit: true,
        },
        include: ['example-*.ts'],
      }),
    );
    writeFileSync(join(dir, 'package.json'), '{ "type": "module" }');
    const tsc = createRequire(join(pkg, 'package.json')).resolve('typescript/bin/tsc');
    const r = spawnSync(process.execPath, [tsc, '-p', dir], { encoding: 'utf8', timeout: 100_000 });
    expect(r.status, r.stdout + r.stderr).toBe(0);
  }, 120_000);

  it.each([0, 1, 2, 3])(
    'example %i runs as written in Node',
    (i) => {
      const r = spawnSync(process.execPath, [join(dir, `example-${i}.mjs`)], {
        cwd: dir,
        env,
        encoding: 'utf8',
        timeout: 100_000,
      });
      expect(r.status, r.stderr).toBe(0);
      const expected = [
        /model on onnxruntime-node\n[\s\S]*a gripping film → (positive|negative) \(\d+\.\d%\), \d+% of the MACs\n {2}tokens kept per layer: \d+ \d+ · \[CLS\]/,
        /\[\d+, \d+\) from window \d of \d, score -?\d+\.\d\d/,
        /(positive|negative) \[ [\d.e-]+, [\d.e-]+ \] \[ [\d.e-]+, [\d.e-]+ \]/,
        /^q8 (positive|negative) \[ [\d.e-]+, [\d.e-]+ \]/,
      ][i]!;
      expect(r.stdout).toMatch(expected);
    },
    120_000,
  );

  it('the first example bundles for the browser with esbuild: onnxruntime-web, no Node built-ins', async () => {
    const result = await build({
      entryPoints: [join(dir, 'example-0.ts')],
      absWorkingDir: dir,
      bundle: true,
      platform: 'browser',
      format: 'esm',
      target: 'es2022',
      write: false,
      metafile: true,
      logLevel: 'silent',
      outdir: join(dir, 'browser'),
      // A browser has no process.env: the model is a bundle's URL there.
      define: { 'process.env.LAT_EXAMPLE_MODEL': JSON.stringify('/bundles/tiny/') },
    });
    expect(result.errors).toEqual([]);
    const inputs = Object.keys(result.metafile.inputs);
    const imports = Object.values(result.metafile.inputs).flatMap((i) => i.imports.map((x) => x.path));
    const builtins = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);
    expect(imports.filter((p) => p.startsWith('node:') || builtins.has(p))).toEqual([]);
    expect(inputs.some((p) => p.includes('onnxruntime-web'))).toBe(true);
    expect(inputs.filter((p) => p.includes('onnxruntime-node') || p.includes('runtime-node'))).toEqual([]);
    expect(inputs.some((p) => p.includes('pipeline/dist/browser.js'))).toBe(true);
    const js = result.outputFiles.find((f) => f.path.endsWith('.js'))!.text;
    expect(js).not.toMatch(/\bfrom\s*["']node:|require\(["'](node:)?(fs|path|crypto|os)["']\)/);
    browserBuild = js;
  }, 120_000);

  it.skipIf(!existsSync(chromiumPath))(
    'the browser build runs in Chromium: the example classifies with the bundle at its URL',
    async () => {
      expect(browserBuild, 'the esbuild test runs first').toBeDefined();
      const site = join(dir, 'site');
      mkdirSync(site, { recursive: true });
      writeFileSync(join(site, 'example.js'), browserBuild!);
      writeFileSync(
        join(site, 'index.html'),
        '<!doctype html><script type="module" src="./example.js"></script>',
      );
      cpSync(join(dir, 'bundle'), join(site, 'bundles/tiny'), { recursive: true });
      // onnxruntime-web fetches its wasm next to the script that bundled it.
      const ortDist = dirname(
        createRequire(join(pkg, '../runtime-web/package.json')).resolve('onnxruntime-web'),
      );
      copyFileSync(
        join(ortDist, 'ort-wasm-simd-threaded.jsep.wasm'),
        join(site, 'ort-wasm-simd-threaded.jsep.wasm'),
      );
      const server = createServer((req, res) => {
        const file = join(
          site,
          normalize(decodeURIComponent((req.url ?? '/').split('?')[0]!)).replace(/^(\.\.[/\\])+/, ''),
        );
        if (!existsSync(file) || statSync(file).isDirectory()) return void res.writeHead(404).end();
        const type = {
          '.html': 'text/html',
          '.js': 'text/javascript',
          '.json': 'application/json',
          '.wasm': 'application/wasm',
        }[extname(file)];
        res.writeHead(200, { 'Content-Type': type ?? 'application/octet-stream' });
        createReadStream(file).pipe(res);
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const { chromium } = await import('playwright-core');
      const browser = await chromium.launch(headlessChromium);
      try {
        const page = await browser.newPage();
        const logs: string[] = [];
        const errors: string[] = [];
        page.on('console', (m) => m.type() === 'log' && logs.push(m.text()));
        page.on('pageerror', (e) => errors.push(e.message));
        await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/index.html`);
        const deadline = Date.now() + 60_000;
        while (logs.filter((l) => /tokens kept per layer/.test(l)).length < 2 && errors.length === 0) {
          if (Date.now() > deadline) throw new Error(`no output from the page; console: ${logs.join(' | ')}`);
          await new Promise((r) => setTimeout(r, 100));
        }
        expect(errors).toEqual([]);
        expect(logs[0]).toBe('tiny on onnxruntime-web');
        expect(logs.join('\n')).toMatch(
          /a gripping film → (positive|negative) \(\d+\.\d%\), \d+% of the MACs\n {2}tokens kept per layer: \d+ \d+ · \[CLS\]/,
        );
      } finally {
        await browser.close();
        server.close();
      }
    },
    120_000,
  );
});

let browserBuild: string | undefined;
