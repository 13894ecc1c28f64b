// The harvest worker's entry: exposes HarvestApi (src/data/harvest/browser-harvest.ts) over comlink.
// It runs USE-lite on TF.js's WASM backend (threaded when the page is cross-origin isolated), loading the
// model, vocabulary and Brown documents from the page's own origin. Rows come back transferred, not copied.
// Open it with: wrap<HarvestApi>(new Worker(new URL('../worker/harvest-worker.ts', import.meta.url), { type: 'module' })).
import { expose, transfer } from 'comlink';
import { BrowserHarvester, type HarvestApi } from '../data/harvest/browser-harvest.ts';

const harvester = new BrowserHarvester(self.location.href, import.meta.env.BASE_URL);

const api: HarvestApi = {
  init: (opts) => harvester.init(opts),
  async harvestSentences(sentences, layer, opts) {
    const out = await harvester.harvestSentences(sentences, layer, opts);
    return transfer(out, [out.rows.buffer as ArrayBuffer]);
  },
  async harvestBrown(opts, onProgress) {
    const out = await harvester.harvestBrown(opts, onProgress);
    const c = out.context;
    const columns = [c.doc, c.sentence, c.pos, c.token, ...Object.values(c.labels).map((l) => l.values)];
    return transfer(out, [out.rows.buffer as ArrayBuffer, ...columns.map((a) => a.buffer as ArrayBuffer)]);
  },
};

expose(api);
