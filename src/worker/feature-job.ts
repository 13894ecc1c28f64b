// The feature explorer's GPU jobs, run by the GPU worker: the statistics pass over a dataset's held-out
// rows (engine/feature-stats.ts: two passes), then a third pass for the label mass when the dataset has
// labels, giving the feature table; and a feature's card, which runs the SAE on the context windows of its
// top and sampled rows so every token around a hit is shaded by the feature's activation.
import { contextWindow, decoderNeighbourList, encoderDecoderCosine, featureTable, type Example, type FeatureCard } from '../analysis/feature-card.ts';
import { addLabelMass, featureLabels, newLabelMass, type LabelMass } from '../analysis/labels.ts';
import { addFireCounts, addProbeConfusion, classifierScores, complementRanges, featureConfusion, newFireCounts, sampleRanges, trainProbes, type ClassifierScores } from '../analysis/probe.ts';
import type { RowSource } from '../data/sources.ts';
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
  let probes: FeatureRecord['probes'] = null;
  if (labelColumn && ctx) {
    const column = ctx.labels[labelColumn]!;
    labelMass = newLabelMass(column.names, sae.features);
    const fires = newFireCounts(sae.features, column.names.length);
    const runner = new SaeRunner(device, sae, CHUNK);
    try {
      let done = 0;
      for (const [s, e] of ranges) {
        for (let r = s; r < e; r += CHUNK) {
          signal.throwIfAborted();
          const n = Math.min(CHUNK, e - r);
          const { acts } = await runner.forward(await rows.readRows(r, n));
          addLabelMass(labelMass, acts, column.values.subarray(r, r + n), ctx.token.subarray(r, r + n));
          addFireCounts(fires, acts, column.values.subarray(r, r + n));
          done += n;
          onProgress({ fraction: (2 * total + done) / (3 * total), stage: `labels: ${done.toLocaleString('en-US')} of ${total.toLocaleString('en-US')} rows` });
        }
      }
    } finally {
      runner.destroy();
    }
    labels = featureLabels(labelMass);
    onProgress({ fraction: 1, stage: 'linear probes for each label' });
    probes = { fires, scores: await probeScores(rows, ctx.labels[labelColumn]!.values, ranges, column.names.length, signal) };
  }
  const table = featureTable(stats, ctx, labels, { saeLabel: meta.saeLabel, datasetId: manifest.id, datasetName: manifest.name, labelColumn });
  return { key: meta.key, step: meta.step, table, stats, labelMass, probes, created: Date.now() };
}

export async function featureCard(device: GPUDevice, store: DatasetStore, sae: SaeWeights, rec: FeatureRecord, feature: number): Promise<FeatureCard> {
  if (!Number.isInteger(feature) || feature < 0 || feature >= sae.features) throw new Error(`no feature ${feature} in an SAE of ${sae.features}`);
  const s = featureSummary(rec.stats, feature);
  const rows = await store.rowSource(rec.table.datasetId);
  const ctx = await store.readContext(rec.table.datasetId);
  const hits = [...s.top.map((t) => ({ ...t })), ...s.samples.map((q) => ({ row: q.row, act: q.act, interval: [q.lo, q.hi] as [number, number] }))];
  const examples = await shadeWindows(device, sae, rows, ctx, feature, hits);
  const labels = labelShares(rec.labelMass, feature);
  const top = labels[0];
  const l = top && rec.labelMass ? rec.labelMass.names.indexOf(top.name) : -1;
  const probe = l >= 0 && rec.probes ? { label: top!.name, probe: rec.probes.scores[l]!, feature: classifierScores(featureConfusion(rec.probes.fires, feature, l)) } : null;
  return {
    feature, density: s.density, max: s.max, meanFiring: s.meanFiring,
    histogram: { edges: [...s.histogram.edges.slice(0, -1)], counts: [...s.histogram.counts] },
    top: examples.slice(0, s.top.length), samples: examples.slice(s.top.length),
    neighbours: decoderNeighbourList(sae, feature), encDecCos: encoderDecoderCosine(sae, feature), labels, probe,
  };
}

/** training rows the label probes are fit on, at most (a seeded sample of 256-row pieces beyond that) */
const PROBE_ROWS = 20_000;

/**
 * One-vs-rest logistic probes for every label on the raw activations of the training rows (outside the
 * held-out ranges), scored on the held-out rows: the yardstick a feature's precision and recall for its
 * label are read against (Scaling Monosemanticity compares features with probes the same way).
 */
async function probeScores(rows: RowSource, labels: Int32Array, heldOut: [number, number][], classes: number, signal: AbortSignal): Promise<ClassifierScores[]> {
  const train = sampleRanges(complementRanges(heldOut, rows.rows), PROBE_ROWS, 0);
  const n = train.reduce((k, [s, e]) => k + e - s, 0);
  const x = new Float32Array(n * rows.d);
  const y = new Int32Array(n);
  let at = 0;
  for (const [s, e] of train) {
    x.set(await rows.readRows(s, e - s), at * rows.d);
    y.set(labels.subarray(s, e), at);
    at += e - s;
  }
  signal.throwIfAborted();
  const probes = trainProbes(x, rows.d, y, [...Array(classes).keys()]);
  const confusion = probes.map(() => ({ tp: 0, fp: 0, fn: 0, tn: 0 }));
  for await (const [s, chunk] of rangeChunksAt(rows, heldOut, CHUNK)) {
    signal.throwIfAborted();
    const l = labels.subarray(s, s + chunk.length / rows.d);
    probes.forEach((p, k) => addProbeConfusion(confusion[k]!, p, chunk, l));
  }
  return confusion.map(classifierScores);
}

/** rangeChunks, with each chunk's first row */
async function* rangeChunksAt(rows: RowSource, ranges: [number, number][], chunkRows: number): AsyncGenerator<[number, Float32Array]> {
  for (const [s, e] of ranges) for (let r = s; r < e; r += chunkRows) yield [r, await rows.readRows(r, Math.min(chunkRows, e - r))];
}

/** feature i's share of its activation mass on each label and the lift over the label's base rate, largest first */
function labelShares(m: LabelMass | null, i: number): FeatureCard['labels'] {
  if (!m) return [];
  const L = m.names.length;
  let total = 0;
  for (let l = 0; l < L; l++) total += m.mass[i * L + l]!;
  if (total === 0) return [];
  return m.names
    .map((name, l) => ({ name, share: m.mass[i * L + l]! / total, lift: m.mass[i * L + l]! / total / (m.labelRows[l]! / m.rows) }))
    .filter((x) => x.share > 0)
    .sort((a, b) => b.share - a.share);
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

/**
 * The run's feature data as static JSON a dashboard can load: index.json (the SAE, the dataset and the
 * table) and features/<i>.json per feature, with fields after OpenAI's sae-viewer and Neuronpedia: density,
 * activation histogram, top and interval-sampled examples with their tokens and per-token activations,
 * neighbours by decoder cosine, encoder–decoder cosine and label shares. Every window row runs through the
 * SAE once (its nonzero activations kept), however many features show it.
 */
export async function exportFeatureJson(
  device: GPUDevice,
  store: DatasetStore,
  sae: SaeWeights,
  rec: FeatureRecord,
  signal: AbortSignal,
  onProgress: (p: FeatureJobProgress) => void,
): Promise<Record<string, Uint8Array>> {
  const rows = await store.rowSource(rec.table.datasetId);
  const ctx = await store.readContext(rec.table.datasetId);
  const F = sae.features;
  const summaries = Array.from({ length: F }, (_, i) => featureSummary(rec.stats, i));
  const hitsOf = (i: number) => [...summaries[i]!.top.map((t) => ({ ...t })), ...summaries[i]!.samples.map((q) => ({ row: q.row, act: q.act, interval: [q.lo, q.hi] as [number, number] }))];
  const needed = new Set<number>();
  for (let i = 0; i < F; i++) for (const h of hitsOf(i)) { const [s, e] = contextWindow(ctx, rows.rows, h.row); for (let r = s; r < e; r++) needed.add(r); }
  const order = [...needed].sort((a, b) => a - b);
  // the nonzero activations of every needed row: row → (features, values)
  const sparse = new Map<number, { f: Uint32Array; a: Float32Array }>();
  const runner = new SaeRunner(device, sae, CHUNK);
  try {
    for (let k = 0; k < order.length; k += CHUNK) {
      signal.throwIfAborted();
      const batch = order.slice(k, k + CHUNK);
      const x = new Float32Array(batch.length * sae.d);
      for (const [j, r] of batch.entries()) x.set(await rows.readRows(r, 1), j * sae.d);
      const { acts } = await runner.forward(x);
      batch.forEach((r, j) => {
        const f: number[] = [];
        const a: number[] = [];
        for (let i = 0; i < F; i++) if (acts[j * F + i]! > 0) f.push(i), a.push(acts[j * F + i]!);
        sparse.set(r, { f: Uint32Array.from(f), a: Float32Array.from(a) });
      });
      onProgress({ fraction: (k + batch.length) / order.length, stage: `examples: ${(k + batch.length).toLocaleString('en-US')} of ${order.length.toLocaleString('en-US')} rows` });
    }
  } finally {
    runner.destroy();
  }
  const actOf = (r: number, i: number) => {
    const s = sparse.get(r)!;
    const at = s.f.indexOf(i);
    return at < 0 ? 0 : s.a[at]!;
  };
  const token = (r: number) => (ctx ? ctx.strings[ctx.token[r]!]! : `row ${r}`);
  const example = (i: number, h: { row: number; act: number; interval?: [number, number] }) => {
    const [s, e] = contextWindow(ctx, rows.rows, h.row);
    const span = Array.from({ length: e - s }, (_, k) => s + k);
    return { row: h.row, act: h.act, ...(h.interval ? { interval: h.interval } : {}), tokens: span.map(token), acts: span.map((r) => actOf(r, i)), hit: h.row - s };
  };
  const enc = new TextEncoder();
  const files: Record<string, Uint8Array> = {
    'index.json': enc.encode(JSON.stringify({ sae: rec.table.saeLabel, dataset: rec.table.datasetName, rows: rec.table.rows, features: rec.table.features }, null, 1)),
  };
  for (let i = 0; i < F; i++) {
    const s = summaries[i]!;
    const json = {
      index: i, density: s.density, max_act: s.max, mean_act: s.mean, mean_act_firing: s.meanFiring,
      act_histogram: { bin_edges: [...s.histogram.edges], counts: [...s.histogram.counts] },
      top_examples: s.top.map((h) => example(i, h)),
      quantile_examples: hitsOf(i).slice(s.top.length).map((h) => example(i, h)),
      neighbours: decoderNeighbourList(sae, i), enc_dec_cos: encoderDecoderCosine(sae, i), labels: labelShares(rec.labelMass, i),
    };
    files[`features/${i}.json`] = enc.encode(JSON.stringify(json));
  }
  return files;
}
