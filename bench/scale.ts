// `npm run bench:scale`: how large a dictionary one tab trains here — 65,536 features over d = 768 — on this
// machine's adapter: in the tab itself (headless Chromium, bench/pages/scale.ts) and through the same engine
// in Node (Dawn). For each: its GPU memory (engine/memory.ts, and the feature shards it needs under that
// adapter's buffer limits) and its ms/step, TopK and the standard SAE, timed after the tuner and a warm-up
// step (bench/scale-run.ts); for the tab also the browser's resident memory. Writes bench-scale.json beside
// a table. SAE_SCALE_STEPS: timed steps (default 2); SAE_SCALE_IN: tab, node or both (default both).
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import type { Arch } from '../src/engine/config.ts';
import { requestNodeDevice } from '../src/engine/node-device.ts';
import { measureScale, SCALE, type ScaleRow } from './scale-run.ts';
import { startScalePage, watchRss } from './scale-browser.ts';

const STEPS = Number(process.env.SAE_SCALE_STEPS ?? 2);
const WHERE = process.env.SAE_SCALE_IN ?? 'both';
const ARCHES: Arch[] = ['topk', 'standard'];
const TIMEOUT_MS = 60 * 60 * 1000;
const mib = (n: number) => `${(n / 2 ** 20).toFixed(0)} MiB`;
if (!['tab', 'node', 'both'].includes(WHERE)) throw new Error(`SAE_SCALE_IN must be tab, node or both, got ${WHERE}`);

type Row = ScaleRow & { where: 'tab' | 'node'; adapter: string; browser_rss_peak_mib?: number };
const rows: Row[] = [];
const say = (r: Row) => console.log(JSON.stringify({ ...r, loss: r.loss.map((l) => +l.toFixed(4)) }));
console.log(`${cpus().length} CPUs, load ${loadavg()[0]!.toFixed(1)}; ${SCALE.features} features over d = ${SCALE.d}, batch ${SCALE.batch}, ${STEPS} timed steps`);

if (WHERE !== 'node') {
  const page = await startScalePage((line) => console.log(line));
  try {
    console.log(`tab: ${page.info.adapter}; ${page.info.userAgent}`);
    for (const arch of ARCHES) {
      const rss = watchRss();
      const r = (await page.run({ kind: 'dictionary', arch, steps: STEPS }, TIMEOUT_MS)) as ScaleRow;
      const row: Row = { ...r, where: 'tab', adapter: page.info.adapter, browser_rss_peak_mib: rss.stop() };
      rows.push(row);
      say(row);
    }
  } finally {
    await page.close();
  }
}
if (WHERE !== 'tab') {
  const gpu = await requestNodeDevice();
  console.log(`node: ${gpu.adapter}; maxBufferSize ${mib(gpu.device.limits.maxBufferSize)}, maxStorageBufferBindingSize ${mib(gpu.device.limits.maxStorageBufferBindingSize)}`);
  for (const arch of ARCHES) {
    const row: Row = { ...(await measureScale(gpu.device, gpu.adapter, arch, STEPS)), where: 'node', adapter: gpu.adapter };
    rows.push(row);
    say(row);
  }
  gpu.device.destroy();
}
console.log('\n| where | arch | d × F | batch | shards | GPU memory | browser RSS peak | ms/step | tokens/s | GFLOP/s |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
for (const r of rows) {
  console.log(`| ${r.where} | ${r.arch} | ${r.d} × ${r.features} | ${r.batch} | ${r.shards} | ${r.gpu_memory_mib} MiB | ${r.browser_rss_peak_mib ? `${r.browser_rss_peak_mib} MiB` : '–'} | ${r.ms_per_step} | ${r.tokens_per_s} | ${r.gflop_per_s} |`);
}
writeFileSync('bench-scale.json', JSON.stringify({ cpus: cpus().length, date: new Date().toISOString(), rows }, null, 2) + '\n');
