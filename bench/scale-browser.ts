// Starts the scale bench page (bench/pages/scale.html) in headless Chromium with bench/browser.ts's
// startBenchPage, for `npm run bench:scale` (the dictionary in the tab) and `npm run bench:stream` (a dataset
// larger than memory in the tab's IndexedDB). Also: the resident memory of that browser's processes.
import { execSync } from 'node:child_process';
import { startBenchPage, type BenchPage } from './browser.ts';
import type { PageInfo } from './pages/common.ts';
import type { ScaleResult, ScaleSpec } from './pages/scale.ts';

export type ScalePage = BenchPage<PageInfo, ScaleSpec, ScaleResult>;

/** `profile`: a folder for the browser's storage on disk (bench:stream's dataset is larger than memory) */
export function startScalePage(log: (line: string) => void, profile?: string): Promise<ScalePage> {
  return startBenchPage(
    {
      html: 'bench/pages/scale.html',
      profile,
      cacheDir: 'node_modules/.vite-bench-scale',
      include: [],
      console: { types: ['error', 'warning', 'info'], clip: 300 },
      notIsolated: '[bench] the scale page is not cross-origin isolated',
      info: () => window.saeScale.info(),
      run: (s: ScaleSpec) => window.saeScale.run(s),
    },
    log,
  );
}

/** MiB resident in the browsers this process started (their GPU, renderer and utility processes included) */
export function childrenRssMib(): number {
  const rows = execSync('ps -eo pid=,ppid=,rss=,comm=', { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .map(([pid, ppid, rss, comm]) => [Number(pid), Number(ppid), Number(rss), comm ?? ''] as const);
  const ours = new Set([process.pid]);
  // parents come before children in pid order only usually: repeat until nothing is added
  for (let added = true; added; ) {
    added = false;
    for (const [pid, ppid] of rows) if (ours.has(ppid) && !ours.has(pid)) (ours.add(pid), (added = true));
  }
  // Vite's esbuild service is a child too; only the browser's processes count
  return Math.round(rows.filter(([pid, , , comm]) => ours.has(pid) && /chrom/i.test(comm)).reduce((a, [, , rss]) => a + rss, 0) / 1024);
}

/** samples childrenRssMib every `ms` until stopped; the peak */
export function watchRss(ms = 1000): { stop(): number } {
  let peak = childrenRssMib();
  const timer = setInterval(() => (peak = Math.max(peak, childrenRssMib())), ms);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, childrenRssMib());
    },
  };
}
