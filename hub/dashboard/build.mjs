// build.mjs: builds the dashboard into dist/ (or the directory given as the first argument) for
// package dashboard to embed. esbuild bundles web/src/app.js (with tweetnacl and blakejs) and
// web/app.css under content-hashed names; index.html gets those names; web/public is copied; sw.js
// lists the files for offline start. The output is deterministic: TestBundleUpToDate rebuilds it
// and compares with the committed dist/.
import { build } from 'esbuild';
import { readFileSync, writeFileSync, rmSync, mkdirSync, readdirSync, copyFileSync } from 'node:fs';
import { join, basename, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = process.argv[2] ? resolve(process.argv[2]) : join(here, 'dist');
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

const res = await build({
  absWorkingDir: here,
  entryPoints: ['web/src/app.js', 'web/app.css'],
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['es2022', 'chrome110', 'firefox115', 'safari16'],
  outdir: out,
  entryNames: 'assets/[name]-[hash]',
  metafile: true,
  legalComments: 'none',
  sourcemap: false,
  logLevel: 'warning',
});

const outputs = Object.keys(res.metafile.outputs).map((p) => '/' + p.slice(p.indexOf('assets/')));
const js = outputs.find((p) => p.endsWith('.js'));
const css = outputs.find((p) => p.endsWith('.css'));
writeFileSync(join(out, 'index.html'), readFileSync(join(here, 'web/index.html'), 'utf8').replace('%JS%', js).replace('%CSS%', css));
const pub = readdirSync(join(here, 'web/public')).sort();
for (const f of pub) copyFileSync(join(here, 'web/public', f), join(out, f));

const shell = ['/', js, css, ...pub.map((f) => '/' + f)];
writeFileSync(join(out, 'sw.js'), `// Service worker: keeps the app shell for offline start; never touches /v1/ (the API).
const CACHE = ${JSON.stringify('ness-' + basename(js, '.js'))};
const SHELL = ${JSON.stringify(shell)};
self.addEventListener('install', (e) => e.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting())));
self.addEventListener('activate', (e) => e.waitUntil(caches.keys().then((ks) => Promise.all(ks.filter((k) => k !== CACHE).map((k) => caches.delete(k)))).then(() => self.clients.claim())));
self.addEventListener('fetch', (e) => {
  const u = new URL(e.request.url);
  if (e.request.method !== 'GET' || u.origin !== location.origin || u.pathname.startsWith('/v1/')) return;
  e.respondWith(fetch(e.request).catch(() => caches.match(u.pathname === '/' || u.pathname === '/index.html' ? '/' : e.request)));
});
`);
console.log(`built ${out}: ${js} ${css}`);
