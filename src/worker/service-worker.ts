// The service worker that makes the lab work offline. The build (vite.config.ts, offlinePrecache) bundles
// this file into sw.js at the base URL with the precache manifest baked in: every file the build emits —
// the app, its workers, TF.js's .wasm binaries, the model files and the Brown corpus. It is written by hand
// because what it does is small (precache, cache-first, delete old caches) and a library would have to be
// told about COOP/COEP and hash checks anyway.
//
// Installing downloads every file (or reuses an unchanged one from the previous build's cache, found by its
// content hash), checks each against the hash the build recorded and stores it under a cache named by the
// build's version; a file that does not match fails the installation, so a half-deployed server is never
// cached as a whole. Activation deletes the caches of other versions. Precached same-origin GETs are answered
// from the cache; everything else goes to the network untouched.
import { CACHE_PREFIX, CACHED_HEADERS, contentHash, HASH_HEADER, type OfflineMessage, type PrecacheEntry, type PrecacheManifest } from './precache.ts';

declare const self: ServiceWorkerGlobalScope;
/** replaced by the build with the manifest */
declare const __SAE_LAB_PRECACHE__: PrecacheManifest;

const manifest = __SAE_LAB_PRECACHE__;
const CACHE = `${CACHE_PREFIX}${manifest.version}`;
/** sw.js sits at the base URL, so its folder is the app's root */
const base = new URL('./', self.location.href);
const urlOf = (path: string) => new URL(path, base).href;
const entries = new Map<string, PrecacheEntry>(manifest.entries.map((e) => [urlOf(e.path), e]));
const indexUrl = urlOf('index.html');
const totalBytes = manifest.entries.reduce((n, e) => n + e.bytes, 0);
/** parallel downloads while installing: enough to hide latency, few enough not to starve the page */
const DOWNLOADS = 6;
const PROGRESS_EVERY_MS = 250;

self.addEventListener('install', (event) => {
  // Waiting for every tab to close would leave a returning visitor on the old version (and its old cache)
  // until then; the new files are already verified, and old pages fall back to the network for anything of
  // theirs the new cache lacks.
  event.waitUntil(
    precache().then(
      () => self.skipWaiting(),
      async (e: unknown) => {
        const msg: OfflineMessage = { type: 'sae-lab-precache-failed', version: manifest.version, error: String((e as Error)?.message ?? e) };
        await tell(msg);
        throw e;
      },
    ),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      const stale = (await caches.keys()).filter((name) => name.startsWith(CACHE_PREFIX) && name !== CACHE);
      await Promise.all(stale.map((name) => caches.delete(name)));
      // the first visit's page is then served from the cache too, without waiting for a reload
      await self.clients.claim();
    })(),
  );
});

self.addEventListener('fetch', (event) => {
  const url = precachedUrl(event.request);
  if (url) event.respondWith(fromCache(url, event.request));
});

self.addEventListener('message', (event) => {
  const port = event.ports[0];
  if ((event.data as { type?: string } | null)?.type !== 'sae-lab-precache-status' || !port) return;
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      const cached = (await cache.keys()).filter((r) => entries.has(r.url)).length;
      const reply: OfflineMessage = { type: 'sae-lab-precache-status', version: manifest.version, cached, totalFiles: entries.size, totalBytes };
      port.postMessage(reply);
    })(),
  );
});

/** the cache key for a request the precache answers, or undefined to leave it to the network */
function precachedUrl(request: Request): string | undefined {
  // a Range request wants part of a file; the cache holds whole ones
  if (request.method !== 'GET' || request.headers.has('range')) return undefined;
  const url = new URL(request.url);
  url.hash = '';
  if (request.mode === 'navigate') {
    // the page itself, whatever query it was opened with
    url.search = '';
    if (url.href === base.href) return entries.has(indexUrl) ? indexUrl : undefined;
  }
  return entries.has(url.href) ? url.href : undefined;
}

async function fromCache(url: string, request: Request): Promise<Response> {
  // missing only if the browser evicted the cache; the network may still have it
  return (await caches.match(url, { cacheName: CACHE })) ?? fetch(request);
}

async function precache(): Promise<void> {
  const cache = await caches.open(CACHE);
  const older = await Promise.all(
    (await caches.keys()).filter((name) => name.startsWith(CACHE_PREFIX) && name !== CACHE).map((name) => caches.open(name)),
  );
  // an installation cut short (tab closed, network lost) left verified files behind; keep them
  const have = new Set((await cache.keys()).map((r) => r.url));
  const queue = [...entries];
  const done = { files: 0, bytes: 0 };
  let reported = 0;
  const report = async (force = false) => {
    if (!force && Date.now() - reported < PROGRESS_EVERY_MS) return;
    reported = Date.now();
    await tell({ type: 'sae-lab-precache-progress', version: manifest.version, ...done, totalFiles: entries.size, totalBytes });
  };
  const worker = async () => {
    for (let next = queue.shift(); next; next = queue.shift()) {
      const [url, entry] = next;
      if (!have.has(url)) await cache.put(url, await obtain(url, entry, older));
      done.files++;
      done.bytes += entry.bytes;
      void report();
    }
  };
  await Promise.all(Array.from({ length: DOWNLOADS }, worker));
  await report(true);
}

/** every page of the origin, controlled or not: while installing, none is controlled by this worker yet */
async function tell(msg: OfflineMessage): Promise<void> {
  for (const client of await self.clients.matchAll({ type: 'window', includeUncontrolled: true })) client.postMessage(msg);
}

/** the file as it will be cached: from an older cache if its hash matches, else downloaded and checked */
async function obtain(url: string, entry: PrecacheEntry, older: Cache[]): Promise<Response> {
  for (const cache of older) {
    const hit = await cache.match(url);
    if (hit?.headers.get(HASH_HEADER) === entry.hash) return hit;
  }
  // revalidate: the HTTP cache may hold a previous build's copy of an unhashed name such as index.html
  const response = await fetch(url, { cache: 'no-cache' });
  if (!response.ok) throw new Error(`precache: ${url} answered HTTP ${response.status}`);
  const body = await response.arrayBuffer();
  const hash = await contentHash(body);
  if (hash !== entry.hash) throw new Error(`precache: ${url} has content hash ${hash}; this build's is ${entry.hash}`);
  // Only the type is kept from the server's headers: the body is already decoded (a Content-Encoding would
  // lie), and the isolation headers are set here so the page stays cross-origin isolated when offline.
  const headers = new Headers({ ...CACHED_HEADERS, [HASH_HEADER]: entry.hash });
  const type = response.headers.get('Content-Type');
  if (type) headers.set('Content-Type', type);
  return new Response(body, { status: 200, statusText: 'OK', headers });
}
