// Starts the bench page (bench/pages/bench.html) in headless Chromium: a Vite dev server for the page (with
// the project's vite.config.ts, so COOP/COEP make the page cross-origin isolated and TF.js's WASM backend
// may use threads) and one tab driven through playwright-core, as the browser tests drive the lab.
// startBenchPage does the same for the LM page (bench/lm-browser.ts).
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { createServer, type ViteDevServer } from 'vite';
import type { RunResult, RunSpec } from './pages/bench.ts';
import type { PageInfo } from './pages/common.ts';
import { ARGS, CHROMIUM } from '../test/support/browser.ts';

const ROOT = join(import.meta.dirname, '..');

export class RunTimeout extends Error {}

export interface BenchPage<Info, Spec, Result> {
  info: Info;
  /** one run in the tab; rejects with RunTimeout after `timeoutMs` (the tab is then replaced) */
  run(spec: Spec, timeoutMs: number): Promise<Result>;
  close(): Promise<void>;
}

export interface BenchPageOptions<Info, Spec, Result> {
  /** the page's HTML file, relative to the repository root */
  html: string;
  /** Vite's dependency cache, relative to the repository root */
  cacheDir: string;
  /**
   * a profile folder to keep the browser's storage in, on disk, as a user's browser does (default: a fresh
   * context, whose storage Chromium keeps in memory with a small quota)
   */
  profile?: string;
  /** the page's dependencies, named up front so that none is found mid-run (which would reload the page) */
  include: string[];
  /** the console message types passed on to `log`, and the length they are cut to */
  console: { types: string[]; clip?: number };
  /** logged where the page is not cross-origin isolated */
  notIsolated: string;
  /** run in the page (they reach the page's window global, so they must not close over anything) */
  info: () => Promise<Info>;
  run: (spec: Spec) => Promise<Result>;
}

export async function startBenchPage<Info extends PageInfo, Spec, Result>(
  o: BenchPageOptions<Info, Spec, Result>,
  log: (line: string) => void,
): Promise<BenchPage<Info, Spec, Result>> {
  const server: ViteDevServer = await createServer({
    root: ROOT,
    logLevel: (process.env.SAE_BENCH_VITE_LOG as 'info' | undefined) ?? 'error',
    // no file watching and no HMR: an edit to the sources mid-run must not reload the page under a measurement
    server: { port: 0, host: '127.0.0.1', hmr: false, watch: null },
    // a dependency cache of its own: the lab's dev servers (tests) keep theirs untouched
    cacheDir: join(ROOT, o.cacheDir),
    optimizeDeps: { entries: [o.html], include: o.include },
  });
  // Playwright types the page's argument as Unboxed<Spec>, which is Spec itself for the plain data specs are
  const runInPage = o.run as (spec: unknown) => Promise<Result>;
  let browser: { close(): Promise<void> } | undefined;
  try {
    await server.listen();
    const address = server.httpServer!.address();
    const port = typeof address === 'object' && address ? address.port : 5173;
    const url = `http://127.0.0.1:${port}/${o.html}`;
    let context: BrowserContext;
    if (o.profile) {
      context = await chromium.launchPersistentContext(o.profile, { executablePath: CHROMIUM, args: ARGS });
      browser = context;
    } else {
      const b = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
      browser = b;
      context = await b.newContext();
    }
    const open = async (): Promise<Page> => {
      const page = await context.newPage();
      page.on('pageerror', (e) => log(`[page error] ${e.message}`));
      page.on('console', (m) => {
        if (o.console.types.includes(m.type())) log(`[page ${m.type()}] ${m.text().slice(0, o.console.clip)}`);
      });
      await page.goto(url);
      await page.waitForFunction(() => document.body.dataset.ready === 'true', undefined, { timeout: 120_000 });
      return page;
    };
    let page = await open();
    const info = await page.evaluate(o.info);
    if (!info.crossOriginIsolated) log(o.notIsolated);
    const b = browser;
    return {
      info,
      async run(spec, timeoutMs) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new RunTimeout(`no result after ${(timeoutMs / 1000).toFixed(0)} s`)), timeoutMs);
        });
        try {
          return await Promise.race([page.evaluate(runInPage, spec), timeout]);
        } catch (e) {
          // a run cut short may still hold the tab (a WASM step blocks it): start over in a fresh one
          if (e instanceof RunTimeout) {
            await page.close({ runBeforeUnload: false }).catch(() => {});
            page = await open();
          }
          throw e;
        } finally {
          clearTimeout(timer);
        }
      },
      async close() {
        await b.close();
        await server.close();
      },
    };
  } catch (e) {
    await browser?.close().catch(() => {});
    await server.close();
    throw e;
  }
}

export type BrowserBench = BenchPage<PageInfo, RunSpec, RunResult>;

export function startBrowserBench(log: (line: string) => void): Promise<BrowserBench> {
  return startBenchPage(
    {
      html: 'bench/pages/bench.html',
      cacheDir: 'node_modules/.vite-bench',
      include: ['@tensorflow/tfjs-core', '@tensorflow/tfjs-core/dist/register_all_gradients', '@tensorflow/tfjs-backend-webgpu', '@tensorflow/tfjs-backend-wasm'],
      console: { types: ['error', 'warning'] },
      notIsolated: '[bench] the page is not cross-origin isolated: TF.js WASM runs without threads',
      info: () => window.saeBench.info(),
      run: (s: RunSpec) => window.saeBench.run(s),
    },
    log,
  );
}
