// Bundles the page into ../wwwroot (build output, not committed): app.js and app.css from
// src/main.js and what it imports, and index.html as it is. Run by the Api project's build.
import { build } from 'esbuild';
import { copyFile, mkdir } from 'node:fs/promises';

const out = new URL('../wwwroot/', import.meta.url);
await mkdir(out, { recursive: true });
await build({
  entryPoints: { app: 'src/main.js' },
  bundle: true,
  format: 'esm',
  target: ['chrome111', 'firefox113', 'safari16.4'],
  minify: true,
  sourcemap: 'linked',
  outdir: out.pathname,
  logLevel: 'warning',
});
await copyFile(new URL('index.html', import.meta.url), new URL('index.html', out));
