// Browser-test support: the lab served by Vite's dev server (COOP/COEP as in production) and driven in real
// headless Chromium through playwright-core — real WebGPU (SwiftShader), real IndexedDB, real workers.
// Screenshots go to artifacts/screenshots/ to be looked at.
import { execSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { build, mergeConfig, preview, type InlineConfig, type PreviewServer } from 'vite';
import { inject } from 'vitest';

const ROOT = join(import.meta.dirname, '../..');
export const SCREENSHOTS = join(ROOT, 'artifacts/screenshots');
/** Debian's Chromium, and the flags that give headless Chromium WebGPU (SwiftShader) and no background network; the benchmark launches it the same way */
export const CHROMIUM = process.env.SAE_LAB_CHROMIUM ?? '/usr/bin/chromium';
export const ARGS = [
  '--enable-unsafe-webgpu',
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export interface Lab {
  url: string;
  browser: Browser;
  context: BrowserContext;
  /** a switch on this browser's command line alone, to find its processes (killGpuProcess) */
  tag: string;
  /**
   * Whether the page's runs start with the GEMM tuner, as a user's first run of a shape does. Off (?tune=off)
   * unless a test asks for it: the tuner is tested where it is the subject, and timing every variant of every
   * new shape in every test file costs the suite about a minute on a software adapter.
   */
  tuner: boolean;
  close(): Promise<void>;
}

/** headless Chromium with WebGPU, one context at the size screenshots are taken at */
async function launch(): Promise<{ browser: Browser; context: BrowserContext; tag: string }> {
  const tag = `--sae-lab-browser=${process.pid}-${Math.random().toString(36).slice(2)}`;
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: [...ARGS, tag] });
  const context = await browser.newContext({ viewport: { width: 1200, height: 800 } });
  mkdirSync(SCREENSHOTS, { recursive: true });
  return { browser, context, tag };
}

/**
 * Kills this browser's GPU process, as a driver crash would (Chromium starts a new one; pages see their
 * WebGPU devices lost). Other browsers on the machine, other tests', are left alone. Returns its pid.
 */
export function killGpuProcess(lab: Lab): number {
  const lines = execSync('ps -eo pid,ppid,args', { encoding: 'utf8' }).split('\n').filter(Boolean);
  const parent = new Map(lines.map((l) => l.trim().split(/\s+/, 2) as [string, string]));
  const main = lines.find((l) => l.includes(lab.tag) && !l.includes('--type='))?.trim().split(/\s+/)[0];
  const ours = (pid: string) => {
    for (let p: string | undefined = pid; p && p !== '0' && p !== '1'; p = parent.get(p)) if (p === main) return true;
    return false;
  };
  const gpu = lines.map((l) => l.trim()).find((l) => l.includes('--type=gpu-process') && ours(l.split(/\s+/)[0]!));
  if (!main || !gpu) throw new Error(`no GPU process found for the browser ${lab.tag}`);
  const pid = Number(gpu.split(/\s+/)[0]);
  process.kill(pid, 'SIGKILL');
  return pid;
}

/** Records the page's Long Animation Frames from now on, each with its scripts (the API must be supported: the test fails otherwise). */
export async function watchLongFrames(page: Page): Promise<void> {
  const supported = await page.evaluate(() => PerformanceObserver.supportedEntryTypes);
  if (!supported.includes('long-animation-frame')) throw new Error('this browser has no Long Animation Frames API');
  await page.evaluate(() => {
    const w = window as unknown as { longFrames: LongFrame[] };
    w.longFrames = [];
    new PerformanceObserver((list) => {
      for (const e of list.getEntries() as (PerformanceEntry & { scripts?: { sourceURL: string; duration: number }[] })[]) {
        w.longFrames.push({ duration: e.duration, scripts: (e.scripts ?? []).map((sc) => ({ src: sc.sourceURL, ms: sc.duration })) });
      }
    }).observe({ type: 'long-animation-frame', buffered: false });
  });
}

interface LongFrame {
  duration: number;
  scripts: { src: string; ms: number }[];
}

/**
 * The recorded frames that the lab's scripts (its own and the libraries it serves, which run its callbacks, as
 * comlink does its messages) made long: their time in the frame (with the style and layout they forced) over
 * 100 ms, or the frame over 250 ms. A frame's length alone is not the measure: on a loaded two-core machine the
 * renderer waits for a core, and that wait counts in it.
 */
export async function ourLongFrames(page: Page, lab: Lab): Promise<{ ours: unknown[]; all: unknown[] }> {
  const all = await page.evaluate(() => (window as unknown as { longFrames: LongFrame[] }).longFrames);
  const mine = (f: LongFrame) => f.scripts.filter((sc) => sc.src.startsWith(lab.url));
  const ours = all.filter((f) => mine(f).length > 0 && (mine(f).reduce((t, sc) => t + sc.ms, 0) > 100 || f.duration > 250));
  return { ours, all };
}

/** A browser of the test file's own, on the lab served by the run's one dev server (lab-server.ts). */
export async function startLab(o: { tuner?: boolean } = {}): Promise<Lab> {
  const { browser, context, tag } = await launch();
  return {
    url: inject('labUrl'),
    browser,
    context,
    tag,
    tuner: o.tuner ?? false,
    async close() {
      await browser.close();
    },
  };
}

/** Opens the lab (with `query`, e.g. '?demo-seconds=40') and waits until the session has listed the stored datasets. */
export async function openLab(lab: Lab, query = ''): Promise<Page> {
  const page = await lab.context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const params = new URLSearchParams(query);
  if (!lab.tuner) params.set('tune', 'off');
  await page.goto(`${lab.url}?${params}`);
  await page.locator('[data-testid=datasets][data-loaded=true]').waitFor();
  await page.locator('[data-testid=gpu-status]', { hasText: 'adapter' }).waitFor();
  if (errors.length) throw new Error(`page errors: ${errors.join('; ')}`);
  return page;
}

/**
 * Reloads the lab, or, when the reload crashes the renderer (this Chromium does so now and then after its GPU
 * process was replaced), opens it again as a user would; returns the live page, its datasets listed.
 */
export async function reloadOrReopen(page: Page, lab: Lab): Promise<Page> {
  try {
    await page.reload();
    await page.locator('[data-testid=datasets][data-loaded=true]').waitFor();
    return page;
  } catch (e) {
    if (!/crashed|detached|ERR_ABORTED/i.test((e as Error).message)) throw e;
    await page.close().catch(() => undefined);
    return openLab(lab);
  }
}

export function screenshot(page: Page, name: string): Promise<Buffer> {
  return page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** The stored datasets and chunk/context records straight from IndexedDB (what the store left behind). */
export function storedRecords(page: Page): Promise<{ datasets: { name: string; status: string; rows: number }[]; chunks: number; context: number }> {
  return page.evaluate(
    () =>
      new Promise((resolve, reject) => {
        const empty = { datasets: [], chunks: 0, context: 0 };
        const req = indexedDB.open('sae-lab-datasets');
        // never create the database here: if the lab has not made it, there is nothing stored
        req.onupgradeneeded = () => req.transaction!.abort();
        req.onerror = () => (req.error?.name === 'AbortError' ? resolve(empty) : reject(req.error));
        req.onsuccess = () => {
          const db = req.result;
          const tx = db.transaction(['datasets', 'chunks', 'context'], 'readonly');
          const all = tx.objectStore('datasets').getAll();
          const chunks = tx.objectStore('chunks').count();
          const context = tx.objectStore('context').count();
          tx.oncomplete = () => {
            db.close();
            resolve({
              datasets: all.result.map((m: { name: string; status: string; rows: number }) => ({ name: m.name, status: m.status, rows: m.rows })),
              chunks: chunks.result,
              context: context.result,
            });
          };
        };
      }),
  );
}

/** How many GEMM choices the page's tuner has stored in IndexedDB (0 when it never ran). */
export function tunedGemms(page: Page): Promise<number> {
  return page.evaluate(
    () =>
      new Promise<number>((resolve, reject) => {
        const open = indexedDB.open('sae-lab-tuner');
        // never create the database here: if the tuner has not made it, it has stored nothing
        open.onupgradeneeded = () => open.transaction!.abort();
        open.onerror = () => (open.error?.name === 'AbortError' ? resolve(0) : reject(open.error));
        open.onsuccess = () => {
          const count = open.result.transaction('gemm').objectStore('gemm').count();
          count.onsuccess = () => {
            open.result.close();
            resolve(count.result);
          };
        };
      }),
  );
}

/** The production build of the lab (index.html) into `outDir`, as `vite build` makes it; `config` adds to it. */
export async function buildLab(outDir: string, config: InlineConfig = {}): Promise<void> {
  await build(mergeConfig({ root: ROOT, logLevel: 'error', build: { outDir, emptyOutDir: true } }, config));
}

export interface BuiltLab extends Lab {
  /** the temporary folder the build is in (removed by close) */
  outDir: string;
  /** stops `vite preview`: from then on nothing answers on the lab's origin but the browser's own caches */
  stopServer(): Promise<void>;
  /** serves `outDir` again on the same origin (same port), e.g. after a new build into it */
  startServer(): Promise<void>;
}

/** The production build served by `vite preview` (COOP/COEP as configured) and a browser of its own. */
export async function startBuiltLab(config: InlineConfig = {}): Promise<BuiltLab> {
  const outDir = mkdtempSync(join(tmpdir(), 'sae-lab-build-'));
  await buildLab(outDir, config);
  let port = 0;
  let server: PreviewServer | undefined;
  const startServer = async () => {
    server = await preview({ root: ROOT, logLevel: 'error', build: { outDir }, preview: { port, strictPort: port !== 0, host: '127.0.0.1' } });
    const address = server.httpServer.address();
    port = typeof address === 'object' && address ? address.port : port;
  };
  const stopServer = async () => {
    await server?.close();
    server = undefined;
  };
  await startServer();
  const { browser, context, tag } = await launch();
  return {
    url: `http://127.0.0.1:${port}/`,
    browser,
    context,
    tag,
    tuner: false,
    outDir,
    stopServer,
    startServer,
    async close() {
      await browser.close();
      await stopServer();
      rmSync(outDir, { recursive: true, force: true });
    },
  };
}
