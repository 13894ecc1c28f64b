// Test page for the harvest worker (test/browser/harvest.test.ts): opens src/worker/harvest-worker.ts the way
// the lab would and offers it to the test as window.harvestPage, with float rows as base64 (little-endian
// float32 bytes) so they cross page.evaluate exactly.
import { proxy, wrap } from 'comlink';
import type { BrownHarvestOptions, BrownHarvestProgress, HarvestApi } from '../../../src/data/harvest/browser-harvest.ts';
import type { HarvestLayer } from '../../../src/data/harvest/model.ts';

const worker = wrap<HarvestApi>(new Worker(new URL('../../../src/worker/harvest-worker.ts', import.meta.url), { type: 'module' }));

function base64(rows: Float32Array): string {
  const bytes = new Uint8Array(rows.buffer, rows.byteOffset, rows.byteLength);
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

const harvestPage = {
  pageIsolated: globalThis.crossOriginIsolated,
  init: (threads?: number) => worker.init(threads === undefined ? {} : { threads }),
  async sentences(sentences: string[][], layer: HarvestLayer) {
    const out = await worker.harvestSentences(sentences, layer);
    return { ...out, rows: base64(out.rows) };
  },
  async brown(opts: BrownHarvestOptions) {
    const progress: BrownHarvestProgress[] = [];
    const out = await worker.harvestBrown(opts, proxy((p: BrownHarvestProgress) => void progress.push(p)));
    const c = out.context;
    return {
      ...out,
      rows: base64(out.rows),
      context: { rows: c.rows, doc: [...c.doc], sentence: [...c.sentence], pos: [...c.pos], token: [...c.token].map((t) => c.strings[t]),
        pos_brown: [...c.labels.pos_brown.values].map((t) => c.labels.pos_brown.names[t]),
        pos_universal: [...c.labels.pos_universal.values].map((t) => c.labels.pos_universal.names[t]) },
      progress,
    };
  },
};

declare global {
  interface Window {
    harvestPage: typeof harvestPage;
  }
}
window.harvestPage = harvestPage;
document.body.dataset.ready = 'true';
