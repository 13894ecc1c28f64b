// Starts the LM bench page (bench/pages/lm.html) in headless Chromium, as bench/browser.ts starts the SAE
// page: a Vite dev server of its own (COOP/COEP from vite.config.ts, so onnxruntime-web's WASM may use
// threads; public/ served, so the built-in model's folder is at /models/builtin-lm/) and one tab driven
// through playwright-core with the flags the browser tests use.
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createServer, type ViteDevServer } from 'vite';
import type { LmPageInfo, LmPageResult, LmPageSpec } from './pages/lm.ts';
import { RunTimeout } from './browser.ts';
import { ARGS, CHROMIUM } from '../test/support/browser.ts';

const ROOT = join(import.meta.dirname, '..');

export interface LmBrowser {
  info: LmPageInfo;
  /** one run in the tab; rejects with RunTimeout after `timeoutMs` (the tab is then replaced) */
  run(spec: LmPageSpec, timeoutMs: number): Promise<LmPageResult>;
  close(): Promise<void>;
}

export async function startLmBrowser(log: (line: string) => void): Promise<LmBrowser> {
  const server: ViteDevServer = await createServer({
    root: ROOT,
    logLevel: (process.env.SAE_BENCH_VITE_LOG as 'info' | undefined) ?? 'error',
    server: { port: 0, host: '127.0.0.1', hmr: false, watch: null },
    cacheDir: join(ROOT, 'node_modules/.vite-bench-lm'),
    optimizeDeps: {
      entries: ['bench/pages/lm.html'],
      // named up front so that none is found mid-run (which would reload the page)
      include: ['onnxruntime-web', 'onnxruntime-web/webgpu'],
    },
  });
  let browser: Browser | undefined;
  try {
    await server.listen();
    const address = server.httpServer!.address();
    const port = typeof address === 'object' && address ? address.port : 5173;
    const url = `http://127.0.0.1:${port}/bench/pages/lm.html`;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    const context = await browser.newContext();
    const open = async (): Promise<Page> => {
      const page = await context.newPage();
      page.on('pageerror', (e) => log(`[page error] ${e.message}`));
      page.on('console', (m) => {
        if (m.type() === 'error') log(`[page ${m.type()}] ${m.text().slice(0, 300)}`);
      });
      await page.goto(url);
      await page.waitForFunction(() => document.body.dataset.ready === 'true', undefined, { timeout: 120_000 });
      return page;
    };
    let page = await open();
    const info = await page.evaluate(() => window.lmBench.info());
    if (!info.crossOriginIsolated) log('[bench] the LM page is not cross-origin isolated: onnxruntime-web WASM runs without threads');
    const b = browser;
    return {
      info,
      async run(spec, timeoutMs) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new RunTimeout(`no result after ${(timeoutMs / 1000).toFixed(0)} s`)), timeoutMs);
        });
        try {
          return await Promise.race([page.evaluate((s) => window.lmBench.run(s), spec), timeout]);
        } catch (e) {
          // a run cut short may still hold the tab: start over in a fresh one
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
