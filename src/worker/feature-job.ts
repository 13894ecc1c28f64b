// The feature explorer's GPU jobs, run by the GPU worker: the statistics pass over a dataset's held-out
// rows (engine/feature-stats.ts: two passes), then a third pass for the label mass when the dataset has
// labels, giving the feature table; and a feature's card, which runs the SAE on the context windows of its
// top and sampled rows so every token around a hit is shaded by the feature's activation.
import { contextWindow, decoderNeighbourList, encoderDecoderCosine, featureTable, type Example, type FeatureCard } from '../analysis/feature-card.ts';
import { addLabelMass, featureLabels, newLabelMass } from '../analysis/labels.ts';
import { rangeChunks } from '../data/batches.ts';
import type { TokenContext } from '../data/context.ts';
import type { FeatureRecord } from '../data/runs.ts';
import type { DatasetStore } from '../data/store.ts';
import { SaeRunner } from '../engine/evaluate.ts';
import { computeFeatureStats, featureSummary } from '../engine/feature-stats.ts';
import type { SaeWeights } from '../engine/sae.ts';

/** the universal POS tags, under the names the page's harvest and `sae-lab harvest` give them */
const LABEL_COLUMNS = ['pos_universal', 'upos'];
const CHUNK = 256;

export interface FeatureJobProgress {
  /** of the whole job, 0 … 1 */
  fraction: number;
  stage: string;
}

export async function computeFeatures(
  device: GPUDevice,
  store: DatasetStore,
  sae: SaeWeights,
  meta: { key: string; step: number; saeLabel: string; datasetId: string },
  signal: AbortSignal,
  onProgress: (p: FeatureJobProgress) => void,
): Promise<FeatureRecord> {
  const manifest = await store.get(meta.datasetId);
  if (!manifest || manifest.status !== 'complete') throw new Error(`dataset ${meta.datasetId} is not stored`);
  if (manifest.d !== sae.d) throw new Error(`${manifest.name} has rows of width ${manifest.d}; the SAE reads ${sae.d}`);
  const rows = await store.rowSource(manifest.id);
  const ranges = (await store.split(manifest.id)).heldOut;
  const total = ranges.reduce((n, [s, e]) => n + e - s, 0);
  const ctx = await store.readContext(manifest.id);
  const labelColumn = LABEL_COLUMNS.find((k) => ctx && k in ctx.labels) ?? null;
  const passes = labelColumn ? 3 : 2;
  const stats = await computeFeatureStats(device, sae, () => rangeChunks(rows, ranges, CHUNK), {
    ranges, signal,
    onProgress: (done) => onProgress({ fraction: done / (passes * total), stage: `statistics: ${done.toLocaleString('en-US')} of ${(2 * total).toLocaleString('en-US')} rows` }),
  });
  let labelMass = null;
  let labels = null;
  if (labelColumn && ctx) {
    const column = ctx.labels[labelColumn]!;
    labelMass = newLabelMass(column.names, sae.features);
    const runner = new SaeRunner(device, sae, CHUNK);
    try {
      let done = 0;
      for (const [s, e] of ranges) {
        for (let r = s; r < e; r += CHUNK) {
          signal.throwIfAborted();
          const n = Math.min(CHUNK, e - r);
          const { acts } = await runner.forward(await rows.readRows(r, n));
          addLabelMass(labelMass, acts, column.values.subarray(r, r + n), ctx.token.subarray(r, r + n));
          done += n;
          onProgress({ fraction: (2 * total + done) / (3 * total), stage: `labels: ${done.toLocaleString('en-US')} of ${total.toLocaleString('en-US')} rows` });
        }
      }
    } finally {
      runner.destroy();
    }
    labels = featureLabels(labelMass);
  }
  const table = featureTable(stats, ctx, labels, { saeLabel: meta.saeLabel, datasetId: manifest.id, datasetName: manifest.name, labelColumn });
  return { key: meta.key, step: meta.step, table, stats, labelMass, created: Date.now() };
}

export async function featureCard(device: GPUDevice, store: DatasetStore, sae: SaeWeights, rec: FeatureRecord, feature: number): Promise<FeatureCard> {
  if (!Number.isInteger(feature) || feature < 0 || feature >= sae.features) throw new Error(`no feature ${feature} in an SAE of ${sae.features}`);
  const s = featureSummary(rec.stats, feature);
  const rows = await store.rowSource(rec.table.datasetId);
  const ctx = await store.readContext(rec.table.datasetId);
  const hits = [...s.top.map((t) => ({ ...t })), ...s.samples.map((q) => ({ row: q.row, act: q.act, interval: [q.lo, q.hi] as [number, number] }))];
  const examples = await shadeWindows(device, sae, rows, ctx, feature, hits);
  const labels: FeatureCard['labels'] = [];
  const m = rec.labelMass;
  if (m) {
    const L = m.names.length;
    let total = 0;
    for (let l = 0; l < L; l++) total += m.mass[feature * L + l]!;
    for (let l = 0; l < L; l++) {
      const share = total > 0 ? m.mass[feature * L + l]! / total : 0;
      if (share > 0) labels.push({ name: m.names[l]!, share, lift: share / (m.labelRows[l]! / m.rows) });
    }
    labels.sort((a, b) => b.share - a.share);
  }
  return {
    feature, density: s.density, max: s.max, meanFiring: s.meanFiring,
    histogram: { edges: [...s.histogram.edges.slice(0, -1)], counts: [...s.histogram.counts] },
    top: examples.slice(0, s.top.length), samples: examples.slice(s.top.length),
    neighbours: decoderNeighbourList(sae, feature), encDecCos: encoderDecoderCosine(sae, feature), labels,
  };
}

/** each hit with its context window, every token shaded by the feature's activation (one GPU forward) */
async function shadeWindows(
  device: GPUDevice,
  sae: SaeWeights,
  rows: { rows: number; d: number; readRows(s: number, n: number): Promise<Float32Array> },
  ctx: TokenContext | undefined,
  feature: number,
  hits: { row: number; act: number; interval?: [number, number] }[],
): Promise<Example[]> {
  const windows = hits.map((h) => contextWindow(ctx, rows.rows, h.row));
  const count = windows.reduce((n, [s, e]) => n + e - s, 0);
  const x = new Float32Array(count * rows.d);
  let at = 0;
  for (const [s, e] of windows) {
    x.set(await rows.readRows(s, e - s), at * rows.d);
    at += e - s;
  }
  const acts = new Float32Array(count);
  const runner = new SaeRunner(device, sae, CHUNK);
  try {
    for (let r = 0; r < count; r += CHUNK) {
      const n = Math.min(CHUNK, count - r);
      const out = await runner.forward(x.subarray(r * rows.d, (r + n) * rows.d));
      for (let t = 0; t < n; t++) acts[r + t] = out.acts[t * sae.features + feature]!;
    }
  } finally {
    runner.destroy();
  }
  let offset = 0;
  return hits.map((h, i) => {
    const [s, e] = windows[i]!;
    const tokens = Array.from({ length: e - s }, (_, k) => (ctx ? ctx.strings[ctx.token[s + k]!]! : `row ${s + k}`));
    const ex: Example = { row: h.row, act: h.act, tokens, acts: [...acts.subarray(offset, offset + e - s)], at: h.row - s, ...(h.interval ? { interval: h.interval } : {}) };
    offset += e - s;
    return ex;
  });
}
