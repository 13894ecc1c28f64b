// Starts the LM bench page (bench/pages/lm.html) in headless Chromium with bench/browser.ts's startBenchPage:
// a Vite dev server of its own (COOP/COEP from vite.config.ts, so onnxruntime-web's WASM may use threads;
// public/ served, so the built-in model's folder is at /models/builtin-lm/) and one tab driven through
// playwright-core with the flags the browser tests use.
import { startBenchPage, type BenchPage } from './browser.ts';
import type { PageInfo } from './pages/common.ts';
import type { LmPageResult, LmPageSpec } from './pages/lm.ts';

export type LmBrowser = BenchPage<PageInfo, LmPageSpec, LmPageResult>;

export function startLmBrowser(log: (line: string) => void): Promise<LmBrowser> {
  return startBenchPage(
    {
      html: 'bench/pages/lm.html',
      cacheDir: 'node_modules/.vite-bench-lm',
      include: ['onnxruntime-web', 'onnxruntime-web/webgpu'],
      console: { types: ['error'], clip: 300 },
      notIsolated: '[bench] the LM page is not cross-origin isolated: onnxruntime-web WASM runs without threads',
      info: () => window.lmBench.info(),
      run: (s: LmPageSpec) => window.lmBench.run(s),
    },
    log,
  );
}
