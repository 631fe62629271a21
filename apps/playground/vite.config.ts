import { copyFileSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { defineConfig, type Plugin } from 'vite';

// Cross-origin isolation lets onnxruntime-web use threads (SharedArrayBuffer).
const isolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

/** Serves onnxruntime-web's wasm runtime files under /ort/ (dev) and copies them into the build. */
function ortAssets(): Plugin {
  const dist = dirname(createRequire(import.meta.url).resolve('onnxruntime-web'));
  const files = readdirSync(dist).filter((f) => /^ort-wasm-simd-threaded(\.jsep)?\.(wasm|mjs)$/.test(f));
  return {
    name: 'lat-ort-assets',
    configureServer(server) {
      server.middlewares.use('/ort/', (req, res, next) => {
        const f = req.url?.split('?')[0]?.slice(1);
        if (!f || !files.includes(f)) return next();
        res.setHeader('Content-Type', f.endsWith('.wasm') ? 'application/wasm' : 'text/javascript');
        import('node:fs').then((fs) => fs.createReadStream(join(dist, f)).pipe(res));
      });
    },
    writeBundle(options) {
      const out = join(options.dir ?? 'dist', 'ort');
      if (!existsSync(out)) mkdirSync(out, { recursive: true });
      for (const f of files) copyFileSync(join(dist, f), join(out, f));
    },
  };
}

export default defineConfig({
  base: './',
  plugins: [ortAssets()],
  server: { headers: isolation },
  preview: { headers: isolation },
  worker: { format: 'es' },
  build: { target: 'es2022' },
});
