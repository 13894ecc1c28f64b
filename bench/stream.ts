// `npm run bench:stream`: a dataset larger than this machine's memory, in one tab's IndexedDB. Through the
// lab's own dataset store (bench/pages/scale.ts): it is written chunk by chunk (generated rows, d = 768, the
// statistics computed on the way, as an import does), one epoch of it is read back as training reads it
// (shuffled blocks through the prefetcher), and a TopK SAE trains on the stream for some steps; then it is
// deleted. The browser keeps its storage in a profile on disk, as a user's does. Reports the rates and the
// browser's resident memory at its peak in each phase (its processes, sampled every second), and writes
// bench-stream.json.
//   SAE_STREAM_GIB      stored size (default: 1.05 × this machine's memory)
//   SAE_STREAM_SECONDS  the longest the epoch may read (default 3600)
//   SAE_STREAM_STEPS    training steps (default 40; TopK, 2,048 features, batch 512)
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, freemem, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import type { StreamResult, TrainResult, WriteResult } from './pages/scale.ts';
import { startScalePage, watchRss } from './scale-browser.ts';

const D = 768;
const GiB = 2 ** 30;
const gib = Number(process.env.SAE_STREAM_GIB ?? ((1.05 * totalmem()) / GiB).toFixed(2));
const maxSeconds = Number(process.env.SAE_STREAM_SECONDS ?? 3600);
const steps = Number(process.env.SAE_STREAM_STEPS ?? 40);
const rows = Math.ceil((gib * GiB) / (D * 4));
const HOUR = 3600 * 1000;
const round = (x: number) => +x.toFixed(1);

console.log(`${cpus().length} CPUs, memory ${round(totalmem() / GiB)} GiB (${round(freemem() / GiB)} free); writing ${rows.toLocaleString('en-US')} rows × ${D} float32 = ${round((rows * D * 4) / GiB)} GiB`);
if (rows * D * 4 <= totalmem()) console.log('(smaller than this machine\'s memory: a trial, not the measurement)');
// a profile on disk, as a user's browser keeps its storage (a fresh context keeps it in memory, 5 GiB at most)
const profile = mkdtempSync(join(tmpdir(), 'sae-lab-stream-'));
const page = await startScalePage((line) => console.log(line), profile);
const phases: Record<string, unknown> = {};
try {
  console.log(`tab: ${page.info.adapter}; ${page.info.userAgent}`);
  let rss = watchRss();
  const written = (await page.run({ kind: 'write', rows, d: D }, 6 * HOUR)) as WriteResult;
  phases.write = { ...written, seconds: round(written.seconds), browser_rss_peak_mib: rss.stop() };
  console.log('write', JSON.stringify(phases.write));
  try {
    rss = watchRss();
    const read = (await page.run({ kind: 'stream', id: written.id, batch: 4096, maxSeconds }, 6 * HOUR)) as StreamResult;
    phases.stream = { ...read, seconds: round(read.seconds), browser_rss_peak_mib: rss.stop() };
    console.log('stream', JSON.stringify(phases.stream));
    rss = watchRss();
    const trained = (await page.run({ kind: 'train', id: written.id, features: 2048, k: 32, batch: 512, steps }, HOUR)) as TrainResult;
    phases.train = { ...trained, seconds: round(trained.seconds), browser_rss_peak_mib: rss.stop() };
    console.log('train', JSON.stringify(phases.train));
  } finally {
    await page.run({ kind: 'drop', id: written.id }, HOUR);
  }
} finally {
  await page.close();
  rmSync(profile, { recursive: true, force: true });
}
const w = phases.write as WriteResult & { browser_rss_peak_mib: number };
const s = phases.stream as StreamResult & { browser_rss_peak_mib: number };
const t = phases.train as TrainResult & { browser_rss_peak_mib: number };
console.log(`\n| phase | what | time | rate | browser RSS peak | JS heap peak |\n| --- | --- | --- | --- | --- | --- |`);
console.log(`| write | ${w.rows.toLocaleString('en-US')} rows × ${D} (${round(w.bytes / GiB)} GiB, ${w.chunks} chunks) | ${w.seconds} s | ${w.mib_per_s} MiB/s | ${w.browser_rss_peak_mib} MiB | ${w.heap_peak_mib ?? '–'} MiB |`);
console.log(`| stream | ${s.rows.toLocaleString('en-US')} of ${s.of.toLocaleString('en-US')} training rows, shuffled blocks | ${s.seconds} s | ${s.rows_per_s.toLocaleString('en-US')} rows/s (${s.mib_per_s} MiB/s) | ${s.browser_rss_peak_mib} MiB | ${s.heap_peak_mib ?? '–'} MiB |`);
console.log(`| train | TopK 2,048 features, batch 512, ${t.steps} steps (loss ${t.loss_first.toFixed(3)} → ${t.loss_last.toFixed(3)}) | ${t.seconds} s | ${t.steps_per_s} steps/s, ${t.rows_per_s} rows/s (waited ${t.stream_wait_s} s for data) | ${t.browser_rss_peak_mib} MiB | ${t.heap_peak_mib ?? '–'} MiB |`);
writeFileSync('bench-stream.json', JSON.stringify({ cpus: cpus().length, memory_gib: round(totalmem() / GiB), adapter: page.info.adapter, date: new Date().toISOString(), d: D, phases }, null, 2) + '\n');
