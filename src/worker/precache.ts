// What the build, the service worker (service-worker.ts) and the page (src/ui/offline.ts) agree on for
// offline use. The build lists every file it emits with a content hash; the service worker bakes that list
// in, so any change to any file changes sw.js and the browser installs the new worker. No Node or DOM here.

/** the service worker's file name under the app's base URL */
export const SW_FILE = 'sw.js';
/** every precache this app makes starts so; one per build version, older ones are deleted on activation */
export const CACHE_PREFIX = 'sae-lab-precache-';
/** header on each cached response: the content hash it was verified against, so a later build can reuse it */
export const HASH_HEADER = 'X-SAE-Lab-Precache-Hash';
/** what a precached response carries besides its own headers; the page must stay cross-origin isolated offline */
export const CACHED_HEADERS: Record<string, string> = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

export interface PrecacheEntry {
  /** relative to the base URL, e.g. 'index.html', 'assets/main-AbC123.js', 'harvest-assets/brown/ca01' */
  path: string;
  /** the first 16 hex digits of the file's SHA-256 */
  hash: string;
  bytes: number;
}

export interface PrecacheManifest {
  /** the first 16 hex digits of the SHA-256 of every path and hash: names the cache */
  version: string;
  entries: PrecacheEntry[];
}

/** The service worker's messages to pages. */
export type OfflineMessage =
  /** during installation, to every page of the origin (controlled or not) */
  | { type: 'sae-lab-precache-progress'; version: string; files: number; totalFiles: number; bytes: number; totalBytes: number }
  /** the installation failed (it is retried on the next visit) */
  | { type: 'sae-lab-precache-failed'; version: string; error: string }
  /** the answer to { type: 'sae-lab-precache-status' } sent on a MessageChannel port */
  | { type: 'sae-lab-precache-status'; version: string; cached: number; totalFiles: number; totalBytes: number };

/** a hex SHA-256 prefix, as PrecacheEntry.hash; the same in Node and in the service worker */
export async function contentHash(bytes: BufferSource): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return Array.from(digest.subarray(0, 8), (b) => b.toString(16).padStart(2, '0')).join('');
}

export async function manifestVersion(entries: PrecacheEntry[]): Promise<string> {
  return contentHash(new TextEncoder().encode(entries.map((e) => `${e.path} ${e.hash}\n`).join('')));
}
