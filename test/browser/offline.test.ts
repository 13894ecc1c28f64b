// Offline use, in the production build served by `vite preview`: after a first visit the service worker
// holds every file the build wrote (app, workers, .wasm, model, corpus); with the server stopped and the
// browser context offline, the page reloads still cross-origin isolated, makes the toy demo, trains on it and
// harvests the Brown corpus with the real model. No request ever leaves the page's origin, and none reaches
// the network while offline. A second build replaces the cache, downloading only the files that changed; the
// dev server started on the same origin afterwards retires the build's service worker rather than hide behind it.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import type { Page, Request } from 'playwright-core';
import { createServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CACHE_PREFIX, SW_FILE } from '../../src/worker/precache.ts';
import { buildLab, openLab, screenshot, startBuiltLab, type BuiltLab } from '../support/browser.ts';

type Phase = 'first visit' | 'offline' | 'update';
interface Seen {
  url: string;
  phase: Phase;
  /** made by the service worker itself (its precache downloads, or a fall-through to the network) */
  byServiceWorker: boolean;
  /** set when it ends: answered by the service worker, by the network, or failed (with why) */
  outcome?: 'service worker' | 'network' | `failed: ${string}`;
}

const ROOT = join(import.meta.dirname, '../..');
let lab: BuiltLab;
let page: Page;
let phase: Phase = 'first visit';
const seen = new Map<Request, Seen>();

beforeAll(async () => {
  lab = await startBuiltLab();
  lab.context.on('request', (r) => void seen.set(r, { url: r.url(), phase, byServiceWorker: r.serviceWorker() !== null }));
  lab.context.on('requestfinished', (r) =>
    void r.response().then((res) => {
      const s = seen.get(r);
      if (s) s.outcome = res?.fromServiceWorker() ? 'service worker' : 'network';
    }),
  );
  lab.context.on('requestfailed', (r) => {
    const s = seen.get(r);
    if (s) s.outcome = `failed: ${r.failure()?.errorText}`;
  });
}, 120_000);
afterAll(async () => lab?.close());

/** every file the build wrote but the service worker itself, relative to the base URL */
function builtFiles(): string[] {
  return readdirSync(lab.outDir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => relative(lab.outDir, join(e.parentPath, e.name)).split(sep).join('/'))
    .filter((path) => path !== SW_FILE)
    .sort();
}

/** the precache manifest baked into the built sw.js: its version and each path's hash */
function builtManifest(): { version: string; hashes: Map<string, string> } {
  const sw = readFileSync(join(lab.outDir, SW_FILE), 'utf8');
  const version = /"version":\s*"([0-9a-f]{16})"/.exec(sw)?.[1];
  if (!version) throw new Error('no precache version in the built sw.js');
  return { version, hashes: new Map([...sw.matchAll(/"path":\s*"([^"]+)",\s*"hash":\s*"([0-9a-f]{16})"/g)].map((m) => [m[1], m[2]])) };
}

/** the app's precaches in the page's origin: their names and what each holds, as paths under the base URL */
function precaches(page: Page): Promise<{ name: string; paths: string[] }[]> {
  return page.evaluate(async (prefix) => {
    const names = (await caches.keys()).filter((n) => n.startsWith(prefix));
    return Promise.all(
      names.map(async (name) => {
        const keys = await (await caches.open(name)).keys();
        return { name, paths: keys.map((r) => new URL(r.url).pathname.slice(1)).sort() };
      }),
    );
  }, CACHE_PREFIX);
}

const offlineReady = (page: Page, version: string) => page.locator(`[data-testid=offline-status][data-state=ready][data-version="${version}"]`);

async function waitForLab(page: Page): Promise<void> {
  await page.locator('[data-testid=datasets][data-loaded=true]').waitFor();
  await page.locator('[data-testid=gpu-status]', { hasText: 'adapter' }).waitFor();
}

describe('offline', () => {
  it('after a first visit, reloads and trains with the server stopped and the context offline', async () => {
    const started = Date.now();
    const { version } = builtManifest();
    page = await openLab(lab);
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await offlineReady(page, version).waitFor({ timeout: 120_000 });
    const precacheSeconds = (Date.now() - started) / 1000;
    await screenshot(page, 'offline-ready');

    // everything the build wrote is in the one cache: app, workers, .wasm, model files, every Brown document
    const files = builtFiles();
    const cached = await precaches(page);
    expect(cached.map((c) => c.name)).toEqual([`${CACHE_PREFIX}${version}`]);
    expect(cached[0].paths).toEqual(files);
    for (const path of ['index.html', 'harvest-assets/manifest.json', 'harvest-assets/use-lite/model.json', 'harvest-assets/use-lite/vocab.json', 'harvest-assets/brown/cr09']) {
      expect(files, path).toContain(path);
    }
    expect(files.filter((f) => /^harvest-assets\/use-lite\/group1-shard\dof7$/.test(f))).toHaveLength(7);
    expect(files.filter((f) => f.startsWith('harvest-assets/brown/'))).toHaveLength(500);
    // the built-in language model and its corpus's code files
    for (const path of ['models/builtin-lm/config.json', 'models/builtin-lm/model.safetensors', 'models/builtin-lm/tokenizer.json', 'harvest-assets/code/0']) expect(files, path).toContain(path);
    expect(files.filter((f) => f.endsWith('.wasm'))).toHaveLength(3);
    const bytes = files.reduce((n, f) => n + readFileSync(join(lab.outDir, f)).byteLength, 0);
    console.log(`precached ${files.length} files, ${(bytes / 2 ** 20).toFixed(1)} MiB, in ${precacheSeconds.toFixed(1)} s from the first page load`);

    // the network goes away: nothing answers on the origin, and the browser is told it is offline
    await lab.stopServer();
    await lab.context.setOffline(true);
    phase = 'offline';
    const offlineStarted = Date.now();
    await page.reload();
    await waitForLab(page);
    await offlineReady(page, version).waitFor();
    // served from the cache with COOP/COEP, so the page and its workers stay isolated (SharedArrayBuffer, threads)
    expect(await page.evaluate(() => ({ isolated: crossOriginIsolated, controlled: navigator.serviceWorker.controller !== null }))).toEqual({
      isolated: true,
      controlled: true,
    });

    // the built-in language model is listed from the cache
    await page.locator('[data-testid=models] tr[data-id=builtin]').waitFor();
    await page.locator('[data-testid=demo-toy]').click();
    const toy = page.locator('[data-testid=datasets] tbody tr', { hasText: 'toy superposition' });
    await toy.waitFor({ timeout: 60_000 });
    await expect(toy.textContent()).resolves.toContain('32,768 × 64');

    const form = page.locator('[data-testid=run-form]');
    await form.locator('select[name=dataset]').selectOption((await toy.getAttribute('data-id'))!);
    for (const [name, value] of Object.entries({ features: '128', k: '8', lr: '0.003', batch: '128', steps: '200' })) {
      await form.locator(`input[name=${name}]`).fill(value);
    }
    await page.locator('[data-testid=start]').click();
    await page.waitForFunction(() => (document.querySelector('sae-app')!.session.training.run?.step ?? 0) >= 20, undefined, { timeout: 60_000 });
    await page.locator('[data-testid=run-status][data-status=done]').waitFor({ timeout: 120_000 });
    expect(await page.evaluate(() => document.querySelector('sae-app')!.session.training.run!.step)).toBe(200);
    await screenshot(page, 'offline-trained');
    const trainSeconds = (Date.now() - offlineStarted) / 1000;

    // the real model on the Brown corpus, all of it from the cache
    const brownStarted = Date.now();
    await page.locator('[data-testid=demo-brown]').click();
    const brown = page.locator('[data-testid=datasets] tbody tr', { hasText: 'Brown corpus' });
    await brown.waitFor({ timeout: 180_000 });
    await expect(brown.textContent()).resolves.toContain('20,000 × 512');
    await screenshot(page, 'offline-brown');
    console.log(`offline: reload, toy demo and 200 steps in ${trainSeconds.toFixed(1)} s; Brown demo in ${((Date.now() - brownStarted) / 1000).toFixed(1)} s`);
    expect(errors).toEqual([]);

    const all = [...seen.values()];
    const origin = new URL(lab.url).origin;
    const outside = all.filter((s) => !/^(data|blob):/.test(s.url) && new URL(s.url).origin !== origin);
    expect(outside).toEqual([]);
    // offline, every request was answered by the service worker; the only one tried on the network is the
    // browser's own update check of sw.js
    const offline = all.filter((s) => s.phase === 'offline' && !/^(data|blob):/.test(s.url));
    expect(offline.length).toBeGreaterThan(0);
    const notFromCache = offline.filter((s) => s.byServiceWorker || s.outcome !== 'service worker');
    expect(notFromCache.filter((s) => !s.url.endsWith(`/${SW_FILE}`))).toEqual([]);
    expect(offline.filter((s) => s.url.includes('/harvest-assets/use-lite/group1-shard')).length).toBeGreaterThanOrEqual(7);
  }, 420_000);

  it('a new build replaces the cache, downloading only what changed, and deletes the old one', async () => {
    const old = builtManifest();
    // the same app but for one line of index.html
    await buildLab(lab.outDir, {
      plugins: [{ name: 'second-build', transformIndexHtml: (html: string) => html.replace('<title>', '<meta name="sae-lab-build" content="second" />\n    <title>') }],
    });
    const { version, hashes } = builtManifest();
    expect(version).not.toBe(old.version);
    // index.html, and whatever else differs from the first build (nothing, unless the sources changed meanwhile)
    const changed = [...hashes].filter(([path, hash]) => old.hashes.get(path) !== hash).map(([path]) => `/${path}`).sort();
    expect(changed).toContain('/index.html');
    await lab.startServer();
    await lab.context.setOffline(false);
    phase = 'update';
    await page.reload(); // still the old version from the cache; the browser checks sw.js and finds a new one
    await offlineReady(page, version).waitFor({ timeout: 120_000 });
    const cached = await precaches(page);
    expect(cached.map((c) => c.name)).toEqual([`${CACHE_PREFIX}${version}`]);
    expect(cached[0].paths).toEqual(builtFiles());
    // from the network: the new sw.js and the changed files; the rest came over from the old cache
    // (the browser's own fetch of sw.js may or may not be reported, so it is left out)
    const fetched = [...seen.values()].filter((s) => s.phase === 'update' && (s.byServiceWorker || s.outcome === 'network')).map((s) => new URL(s.url).pathname);
    expect([...new Set(fetched)].filter((p) => p !== `/${SW_FILE}`).sort()).toEqual(changed);
    await page.reload();
    await waitForLab(page);
    expect(await page.locator('meta[name=sae-lab-build]').getAttribute('content')).toBe('second');
    await screenshot(page, 'offline-updated');
  }, 180_000);

  it('the dev server on the same origin retires a build\'s service worker instead of being hidden by it', async () => {
    await lab.stopServer();
    const dev = await createServer({ root: ROOT, logLevel: 'error', server: { port: Number(new URL(lab.url).port), strictPort: true, host: '127.0.0.1' } });
    await dev.listen();
    try {
      // the build answers from its cache and asks for sw.js; the dev server's sw.js deletes the cache,
      // unregisters itself and reloads the page, which is then the dev server's
      await page.reload();
      await page.waitForFunction(() => document.querySelector('script[type=module][src="/src/main.ts"]') !== null, undefined, { timeout: 60_000 });
      await waitForLab(page);
      await page.locator('[data-testid=offline-status][data-state=off]').waitFor({ state: 'attached' });
      expect(await page.evaluate(async () => ({ workers: (await navigator.serviceWorker.getRegistrations()).length, caches: await caches.keys() }))).toEqual({
        workers: 0,
        caches: [],
      });
      expect(await page.locator('meta[name=sae-lab-build]').count()).toBe(0);
    } finally {
      await dev.close();
    }
  }, 120_000);
});
