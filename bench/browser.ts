// Starts the bench page (bench/pages/bench.html) in headless Chromium: a Vite dev server for the page (with
// the project's vite.config.ts, so COOP/COEP make the page cross-origin isolated and TF.js's WASM backend
// may use threads) and one tab driven through playwright-core, as the browser tests drive the lab.
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createServer, type ViteDevServer } from 'vite';
import type { PageInfo, RunResult, RunSpec } from './pages/bench.ts';
import { ARGS, CHROMIUM } from '../test/support/browser.ts';

const ROOT = join(import.meta.dirname, '..');

export class RunTimeout extends Error {}

export interface BrowserBench {
  info: PageInfo;
  /** one run in the tab; rejects with RunTimeout after `timeoutMs` (the tab is then replaced) */
  run(spec: RunSpec, timeoutMs: number): Promise<RunResult>;
  close(): Promise<void>;
}

export async function startBrowserBench(log: (line: string) => void): Promise<BrowserBench> {
  const server: ViteDevServer = await createServer({
    root: ROOT,
    logLevel: (process.env.SAE_BENCH_VITE_LOG as 'info' | undefined) ?? 'error',
    // no file watching and no HMR: an edit to the sources mid-run must not reload the page under a measurement
    server: { port: 0, host: '127.0.0.1', hmr: false, watch: null },
    // a dependency cache of its own: the lab's dev servers (tests) keep theirs untouched
    cacheDir: join(ROOT, 'node_modules/.vite-bench'),
    optimizeDeps: {
      entries: ['bench/pages/bench.html'],
      // named up front so that none is found mid-run (which would reload the page)
      include: ['@tensorflow/tfjs-core', '@tensorflow/tfjs-core/dist/register_all_gradients', '@tensorflow/tfjs-backend-webgpu', '@tensorflow/tfjs-backend-wasm'],
    },
  });
  let browser: Browser | undefined;
  try {
    await server.listen();
    const address = server.httpServer!.address();
    const port = typeof address === 'object' && address ? address.port : 5173;
    const url = `http://127.0.0.1:${port}/bench/pages/bench.html`;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    const context = await browser.newContext();
    const open = async (): Promise<Page> => {
      const page = await context.newPage();
      page.on('pageerror', (e) => log(`[page error] ${e.message}`));
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') log(`[page ${m.type()}] ${m.text()}`);
      });
      await page.goto(url);
      await page.waitForFunction(() => document.body.dataset.ready === 'true', undefined, { timeout: 120_000 });
      return page;
    };
    let page = await open();
    const info = await page.evaluate(() => window.saeBench.info());
    if (!info.crossOriginIsolated) log('[bench] the page is not cross-origin isolated: TF.js WASM runs without threads');
    const b = browser;
    return {
      info,
      async run(spec, timeoutMs) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new RunTimeout(`no result after ${(timeoutMs / 1000).toFixed(0)} s`)), timeoutMs);
        });
        try {
          return await Promise.race([page.evaluate((s) => window.saeBench.run(s), spec), timeout]);
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
