// Feature statistics over a dataset, for the feature explorer (shaders/featurestats.wgsl): per feature its
// density, mean and max activation, a histogram of its nonzero activations, its top-N rows, and rows sampled
// from every interval of its activation range, so that a feature's specificity can be judged across the
// range and not only at the top.
//
// Two passes over the rows, because the histogram bins and the sampling intervals split (0, max] and the
// max is only known after seeing every row: pass 1 gathers counts, sums, max and the top rows; the host
// then fixes the edges; pass 2 fills the histograms and samples. Each pass runs the SAE's encoder on the GPU
// batch after batch (SaeRunner.encode) and feeds the activations straight to the statistics kernels: no
// activation ever comes back to the CPU, and the CPU holds at most one batch of input rows of its own.
//
// The result depends on nothing but the rows and the options: every per-feature statistic walks the rows in
// dataset order with its state carried between batches, so chunk and batch boundaries change nothing (the
// tests compare chunkings bit for bit).
import { hashInts } from './random.ts';
import { SaeRunner, type EncodedRows } from './evaluate.ts';
import { Kernel, flatGrid, readBuffer, storage, writeArray } from './kernel.ts';
import type { SaeWeights } from './sae.ts';

/** A padding slot's row: a feature that fired on fewer rows than the slots it has. */
export const FEATURE_STATS_NONE = 0xffffffff;

/** The largest value each option takes. */
export const FEATURE_STATS_LIMITS = { topN: 64, bins: 256, quantiles: 64, perQuantile: 64 } as const;

export const FEATURE_STATS_DEFAULTS = { topN: 20, bins: 32, quantiles: 10, perQuantile: 5, seed: 0, batchRows: 256 } as const;

export interface FeatureStatsProgress {
  pass: 1 | 2;
  /** rows done in this pass */
  passRows: number;
  /** of the whole job (both passes), when the row count is known: totalRows, ranges, or after pass 1 */
  fraction: number | undefined;
}

export interface FeatureStatsOptions {
  /** rows kept per feature by activation (ties → lower row); 0 … 64, default 20 */
  topN?: number;
  /** histogram bins over (0, max]; 1 … 256, default 32 */
  bins?: number;
  /** equal-width intervals of (0, max] to sample rows from; 1 … 64, default 10 */
  quantiles?: number;
  /** rows sampled per interval; 0 … 64, default 5 */
  perQuantile?: number;
  /** seeds the sampling hash; default 0 */
  seed?: number;
  /** rows per GPU batch (results do not depend on it); default 256 */
  batchRows?: number;
  /**
   * The dataset row ranges the rows walk, in order (as given to rangeChunks): reported rows are then
   * dataset rows. Without it they are positions in the walk (0 = its first row).
   */
  ranges?: [number, number][];
  /** rows in one walk, if known before pass 1 ends: only used for progress */
  totalRows?: number;
  /** checked before every batch: the job then rejects with an AbortError */
  signal?: AbortSignal;
  /** after every batch the GPU has finished; rowsDone counts the rows of both passes so far */
  onProgress?: (rowsDone: number, progress: FeatureStatsProgress) => void;
}

/**
 * Statistics of F features over `rows` rows, column arrays indexed by feature (F-major). Activations are
 * the SAE's f (raw units); "firing" means f > 0. Row indices: see FeatureStatsOptions.ranges.
 */
export interface FeatureStats {
  features: number;
  rows: number;
  topN: number;
  bins: number;
  quantiles: number;
  perQuantile: number;
  seed: number;
  /** (F) rows with f > 0 */
  count: Uint32Array;
  /** (F) count / rows */
  density: Float64Array;
  /** (F) Σ f over all rows */
  sum: Float64Array;
  /** (F) sum / rows */
  mean: Float64Array;
  /** (F) sum / count; 0 for a feature that never fires */
  meanFiring: Float64Array;
  /** (F) largest f; 0 for a feature that never fires */
  max: Float32Array;
  /** (F) the first row reaching max; NONE for a feature that never fires */
  maxRow: Uint32Array;
  /** (F, bins + 1) 0 = e_0 < e_1 ≤ … ≤ e_bins = max, e_j = fround(max·j/bins); bin j is (e_j, e_j+1] */
  histEdges: Float32Array;
  /** (F, bins) rows with f > 0 in each bin */
  histCounts: Uint32Array;
  /** (F, topN) rows with the largest f > 0, larger first, ties → lower row; padding NONE */
  topRows: Uint32Array;
  /** (F, topN) their activations; padding 0 */
  topActs: Float32Array;
  /** (F, quantiles + 1) interval edges, as histEdges with quantiles in place of bins */
  intervalEdges: Float32Array;
  /**
   * (F, quantiles, perQuantile) per interval of f, the perQuantile rows with the lowest hash(seed, row)
   * among those with f in the interval (a uniform sample, the same whatever the chunking), listed by
   * activation, larger first, ties → lower row; padding NONE
   */
  sampleRows: Uint32Array;
  /** (F, quantiles, perQuantile) their activations; padding 0 */
  sampleActs: Float32Array;
}

/** One feature's statistics, as a feature card shows them. */
export interface FeatureSummary {
  feature: number;
  count: number;
  density: number;
  mean: number;
  meanFiring: number;
  max: number;
  maxRow: number | null;
  histogram: { edges: Float32Array; counts: Uint32Array };
  top: { row: number; act: number }[];
  samples: { interval: number; lo: number; hi: number; row: number; act: number }[];
}

export function featureSummary(s: FeatureStats, i: number): FeatureSummary {
  const { bins, topN: N, quantiles: Q, perQuantile: S } = s;
  const top: FeatureSummary['top'] = [];
  for (let p = 0; p < N; p++) if (s.topRows[i * N + p] !== FEATURE_STATS_NONE) top.push({ row: s.topRows[i * N + p]!, act: s.topActs[i * N + p]! });
  const samples: FeatureSummary['samples'] = [];
  for (let q = 0; q < Q; q++) {
    for (let p = 0; p < S; p++) {
      const o = (i * Q + q) * S + p;
      if (s.sampleRows[o] === FEATURE_STATS_NONE) continue;
      samples.push({ interval: q, lo: s.intervalEdges[i * (Q + 1) + q]!, hi: s.intervalEdges[i * (Q + 1) + q + 1]!, row: s.sampleRows[o]!, act: s.sampleActs[o]! });
    }
  }
  return {
    feature: i,
    count: s.count[i]!,
    density: s.density[i]!,
    mean: s.mean[i]!,
    meanFiring: s.meanFiring[i]!,
    max: s.max[i]!,
    maxRow: s.maxRow[i] === FEATURE_STATS_NONE ? null : s.maxRow[i]!,
    histogram: { edges: s.histEdges.subarray(i * (bins + 1), (i + 1) * (bins + 1)), counts: s.histCounts.subarray(i * bins, (i + 1) * bins) },
    top,
    samples,
  };
}

type Rows = AsyncIterable<Float32Array> | Iterable<Float32Array>;

/**
 * Statistics of every feature of `sae` over the rows (raw activations, whole rows per chunk). `rows` is
 * called once per pass and must yield the same rows in the same order both times.
 */
export async function computeFeatureStats(
  device: GPUDevice,
  sae: SaeWeights,
  rows: () => Rows,
  opts: FeatureStatsOptions = {},
): Promise<FeatureStats> {
  const cfg = resolve(opts);
  const runner = new SaeRunner(device, sae, cfg.batchRows);
  try {
    // the runner may take fewer rows a batch (a wide dictionary's activations must fit one buffer)
    return await twoPasses(device, sae.features, sae.d, (x) => runner.encode(x), rows, { ...cfg, batchRows: runner.batch }, opts);
  } finally {
    await device.queue.onSubmittedWorkDone();
    runner.destroy();
  }
}

/**
 * The same statistics over activations computed elsewhere: `acts` yields (rows, F) row-major chunks of f
 * (each value taken as it is: f > 0 fires).
 */
export async function featureStatsOfActivations(
  device: GPUDevice,
  F: number,
  acts: () => Rows,
  opts: FeatureStatsOptions = {},
): Promise<FeatureStats> {
  if (!Number.isInteger(F) || F < 1) throw new Error(`feature statistics: F must be a positive integer, got ${F}`);
  const cfg = resolve(opts);
  const buf = storage(device, 'featurestats.acts', cfg.batchRows * F * 4);
  try {
    return await twoPasses(device, F, F, (x) => {
      writeArray(device, buf, 0, x);
      return { rows: x.length / F, dense: buf };
    }, acts, cfg, opts);
  } finally {
    await device.queue.onSubmittedWorkDone();
    buf.destroy();
  }
}

interface Config {
  topN: number;
  bins: number;
  quantiles: number;
  perQuantile: number;
  seed: number;
  batchRows: number;
}

function resolve(opts: FeatureStatsOptions): Config {
  const d = FEATURE_STATS_DEFAULTS;
  const cfg: Config = {
    topN: opts.topN ?? d.topN,
    bins: opts.bins ?? d.bins,
    quantiles: opts.quantiles ?? d.quantiles,
    perQuantile: opts.perQuantile ?? d.perQuantile,
    seed: opts.seed ?? d.seed,
    batchRows: opts.batchRows ?? d.batchRows,
  };
  const check = (name: keyof Config, lo: number, hi: number) => {
    const v = cfg[name];
    if (!Number.isInteger(v) || v < lo || v > hi) throw new Error(`feature statistics: ${name} must be an integer in ${lo} … ${hi}, got ${v}`);
  };
  check('topN', 0, FEATURE_STATS_LIMITS.topN);
  check('bins', 1, FEATURE_STATS_LIMITS.bins);
  check('quantiles', 1, FEATURE_STATS_LIMITS.quantiles);
  check('perQuantile', 0, FEATURE_STATS_LIMITS.perQuantile);
  check('batchRows', 1, 65536);
  if (!Number.isSafeInteger(cfg.seed)) throw new Error(`feature statistics: seed must be a safe integer, got ${cfg.seed}`);
  return cfg;
}

function abortError(signal: AbortSignal): DOMException {
  const reason: unknown = signal.reason;
  if (reason instanceof DOMException && reason.name === 'AbortError') return reason;
  return new DOMException('feature statistics cancelled', 'AbortError');
}

/** The interior edges fround(max·j/n), j = 1 … n − 1, of every feature: (F, n − 1). */
function interiorEdges(max: Float32Array, n: number): Float32Array {
  const F = max.length;
  const out = new Float32Array(F * (n - 1));
  for (let i = 0; i < F; i++) for (let j = 1; j < n; j++) out[i * (n - 1) + j - 1] = (max[i]! * j) / n;
  return out;
}

function withEnds(interior: Float32Array, max: Float32Array, n: number): Float32Array {
  const F = max.length;
  const out = new Float32Array(F * (n + 1));
  for (let i = 0; i < F; i++) {
    out.set(interior.subarray(i * (n - 1), (i + 1) * (n - 1)), i * (n + 1) + 1);
    out[i * (n + 1) + n] = max[i]!;
  }
  return out;
}

/** A storage buffer whose every word holds NaN's bits, so a slot no kernel wrote shows in the results. */
function poisoned(device: GPUDevice, label: string, words: number): GPUBuffer {
  const buf = device.createBuffer({
    label,
    size: Math.max(16, words * 4),
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    mappedAtCreation: true,
  });
  new Uint32Array(buf.getMappedRange()).fill(0x7fc00000);
  buf.unmap();
  return buf;
}

async function twoPasses(
  device: GPUDevice,
  F: number,
  width: number,
  produce: (x: Float32Array) => EncodedRows,
  rows: () => Rows,
  cfg: Config,
  opts: FeatureStatsOptions,
): Promise<FeatureStats> {
  const { topN: N, bins, quantiles: Q, perQuantile: S, batchRows } = cfg;
  const { signal, onProgress, ranges } = opts;
  if (signal?.aborted) throw abortError(signal);
  const rangeRows = ranges?.reduce((n, [s, e]) => n + (e - s), 0);
  const largest = 4 * Math.max(batchRows * F, F * N, F * bins, F * Q * S);
  const limit = Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize);
  if (largest > limit) {
    throw new Error(`feature statistics: a buffer of ${largest} bytes (F = ${F}, batchRows = ${batchRows}, topN = ${N}, bins = ${bins}, ${Q}×${S} samples) exceeds this device's limit of ${limit} bytes`);
  }
  const owned: GPUBuffer[] = [];
  const keep = (b: GPUBuffer) => (owned.push(b), b);
  const buf = {
    istate: keep(poisoned(device, 'featurestats.istate', F * 2)),
    fstate: keep(poisoned(device, 'featurestats.fstate', F * 3)),
    top_val: keep(poisoned(device, 'featurestats.top_val', F * N)),
    top_row: keep(poisoned(device, 'featurestats.top_row', F * N)),
    hist: keep(poisoned(device, 'featurestats.hist', F * bins)),
    smp_row: keep(poisoned(device, 'featurestats.smp_row', F * Q * S)),
    smp_val: keep(poisoned(device, 'featurestats.smp_val', F * Q * S)),
    hedge: keep(storage(device, 'featurestats.hedge', F * (bins - 1) * 4)),
    qedge: keep(storage(device, 'featurestats.qedge', F * (Q - 1) * 4)),
  };
  // TopK's sparse picks are scattered into a dense batch, cleared before every batch; made on first use.
  let dense: GPUBuffer | undefined;
  const key = hashInts(cfg.seed);
  const params = (B: number, K: number, row0: number) => ({ B, F, K, row0, N, bins, Q, S, key });
  const stage = (entry: 'init' | 'densify' | 'pass1' | 'pass2') => {
    const kernel = Kernel.get(device, 'featurestats', entry);
    const u = kernel.uniform('u', params(0, 0, 0));
    keep(u.buffer);
    // The runner hands out one activation buffer per batch size: bind groups are cached per input buffer.
    const groups = new Map<GPUBuffer, GPUBindGroup>();
    return {
      kernel,
      u,
      group: (input: GPUBuffer, res: () => Record<string, GPUBuffer>) => {
        let g = groups.get(input);
        if (!g) groups.set(input, (g = kernel.bind({ u: u.buffer, ...res() })));
        return g;
      },
    };
  };
  const init = stage('init');
  const densify = stage('densify');
  const passes = { 1: stage('pass1'), 2: stage('pass2') };
  const state = {
    1: pick(buf, ['istate', 'fstate', 'top_val', 'top_row']),
    2: pick(buf, ['hedge', 'qedge', 'hist', 'smp_row', 'smp_val']),
  };

  try {
    {
      const enc = device.createCommandEncoder({ label: 'featurestats.init' });
      const cp = enc.beginComputePass();
      cp.setPipeline(init.kernel.pipeline);
      cp.setBindGroup(0, init.group(buf.istate, () => pick(buf, ['istate', 'fstate', 'top_val', 'top_row', 'hist', 'smp_row', 'smp_val'])));
      cp.dispatchWorkgroups(...flatGrid(F));
      cp.end();
      device.queue.submit([enc.finish()]);
    }

    let known = opts.totalRows ?? rangeRows;
    let rowsDone = 0;

    const walk = async (which: 1 | 2): Promise<number> => {
      const stat = passes[which];
      const passStart = rowsDone;
      let row0 = 0;
      let inFlight: { done: Promise<unknown>; rows: number } | undefined;
      const settle = async () => {
        if (!inFlight) return;
        await inFlight.done;
        rowsDone += inFlight.rows;
        inFlight = undefined;
        onProgress?.(rowsDone, { pass: which, passRows: rowsDone - passStart, fraction: known ? Math.min(1, rowsDone / (2 * known)) : undefined });
      };
      const submit = async (x: Float32Array) => {
        if (signal?.aborted) throw abortError(signal);
        const B = x.length / width;
        if (row0 + B > FEATURE_STATS_NONE) throw new Error(`feature statistics: more than ${FEATURE_STATS_NONE} rows`);
        const out = produce(x);
        const enc = device.createCommandEncoder({ label: `featurestats.pass${which}` });
        let acts = out.dense;
        if (!acts) {
          const idx = out.idx!;
          const val = out.val!;
          const K = out.k!;
          const target = (dense ??= keep(storage(device, 'featurestats.dense', batchRows * F * 4)));
          densify.u.write(params(B, K, row0));
          enc.clearBuffer(target, 0, B * F * 4);
          const cp = enc.beginComputePass();
          cp.setPipeline(densify.kernel.pipeline);
          cp.setBindGroup(0, densify.group(idx, () => ({ sidx: idx, sval: val, dense: target })));
          cp.dispatchWorkgroups(...flatGrid(B * K));
          cp.end();
          acts = target;
        }
        const input = acts;
        stat.u.write(params(B, 0, row0));
        const cp = enc.beginComputePass();
        cp.setPipeline(stat.kernel.pipeline);
        cp.setBindGroup(0, stat.group(input, () => ({ acts: input, ...state[which] })));
        cp.dispatchWorkgroups(...flatGrid(F));
        cp.end();
        device.queue.submit([enc.finish()]);
        row0 += B;
        // At most two batches in flight: progress stays honest and the queue never runs far ahead.
        await settle();
        inFlight = { done: device.queue.onSubmittedWorkDone(), rows: B };
      };

      // Rows are regrouped into full batches whatever the chunking, so the runner keeps at most two plans.
      const pending = new Float32Array(batchRows * width);
      let fill = 0;
      for await (const chunk of rows()) {
        if (signal?.aborted) throw abortError(signal);
        if (chunk.length % width !== 0) throw new Error(`feature statistics: a chunk of ${chunk.length} values is not whole rows of ${width}`);
        const n = chunk.length / width;
        let off = 0;
        while (off < n) {
          if (fill === 0 && n - off >= batchRows) {
            await submit(chunk.subarray(off * width, (off + batchRows) * width));
            off += batchRows;
            continue;
          }
          const take = Math.min(batchRows - fill, n - off);
          pending.set(chunk.subarray(off * width, (off + take) * width), fill * width);
          fill += take;
          off += take;
          if (fill === batchRows) {
            await submit(pending);
            fill = 0;
          }
        }
      }
      if (fill > 0) await submit(pending.subarray(0, fill * width));
      await settle();
      return row0;
    };

    const total = await walk(1);
    if (total === 0) throw new Error('feature statistics: no rows');
    if (rangeRows !== undefined && rangeRows !== total) throw new Error(`feature statistics: the ranges hold ${rangeRows} rows but the walk gave ${total}`);
    known = total;

    const words = (b: GPUBuffer, n: number) => readBuffer(device, b, 0, Math.max(4, n * 4)).then((a) => a.slice(0, n * 4));
    const [istate, fstate, topVal, topRow] = await Promise.all([
      words(buf.istate, F * 2).then((b) => new Uint32Array(b)),
      words(buf.fstate, F * 3).then((b) => new Float32Array(b)),
      words(buf.top_val, F * N).then((b) => new Float32Array(b)),
      words(buf.top_row, F * N).then((b) => new Uint32Array(b)),
    ]);
    const max = new Float32Array(F);
    for (let i = 0; i < F; i++) max[i] = fstate[3 * i + 2]!;
    const hInner = interiorEdges(max, bins);
    const qInner = interiorEdges(max, Q);
    if (hInner.length) writeArray(device, buf.hedge, 0, hInner);
    if (qInner.length) writeArray(device, buf.qedge, 0, qInner);

    const again = await walk(2);
    if (again !== total) throw new Error(`feature statistics: pass 1 saw ${total} rows and pass 2 saw ${again}; the rows must be the same both times`);
    const [hist, smpRow, smpVal] = await Promise.all([
      words(buf.hist, F * bins).then((b) => new Uint32Array(b)),
      words(buf.smp_row, F * Q * S).then((b) => new Uint32Array(b)),
      words(buf.smp_val, F * Q * S).then((b) => new Float32Array(b)),
    ]);

    sortSamples(smpRow, smpVal, F * Q, S);
    const toRow = rowMapper(ranges);
    const count = new Uint32Array(F);
    const sum = new Float64Array(F);
    const maxRow = new Uint32Array(F);
    for (let i = 0; i < F; i++) {
      count[i] = istate[2 * i]!;
      // Kahan's compensation holds what the running sum over-counted.
      sum[i] = fstate[3 * i]! - fstate[3 * i + 1]!;
      maxRow[i] = toRow(istate[2 * i + 1]!);
    }
    for (let p = 0; p < topRow.length; p++) topRow[p] = toRow(topRow[p]!);
    for (let p = 0; p < smpRow.length; p++) smpRow[p] = toRow(smpRow[p]!);
    return {
      features: F,
      rows: total,
      topN: N,
      bins,
      quantiles: Q,
      perQuantile: S,
      seed: cfg.seed,
      count,
      density: Float64Array.from(count, (c) => c / total),
      sum,
      mean: sum.map((s) => s / total),
      meanFiring: sum.map((s, i) => (count[i] ? s / count[i]! : 0)),
      max,
      maxRow,
      histEdges: withEnds(hInner, max, bins),
      histCounts: hist,
      topRows: topRow,
      topActs: topVal,
      intervalEdges: withEnds(qInner, max, Q),
      sampleRows: smpRow,
      sampleActs: smpVal,
    };
  } finally {
    await device.queue.onSubmittedWorkDone();
    for (const b of owned) b.destroy();
  }
}

function pick<T extends Record<string, GPUBuffer>, K extends keyof T>(o: T, keys: K[]): Pick<T, K> {
  return Object.fromEntries(keys.map((k) => [k, o[k]])) as Pick<T, K>;
}

/** Position in the walk → dataset row (NONE stays NONE). */
function rowMapper(ranges: [number, number][] | undefined): (p: number) => number {
  if (!ranges) return (p) => p;
  const starts: number[] = [];
  let n = 0;
  for (const [s, e] of ranges) {
    starts.push(n);
    n += e - s;
  }
  return (p) => {
    if (p === FEATURE_STATS_NONE) return p;
    let lo = 0;
    let hi = ranges.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= p) lo = mid;
      else hi = mid - 1;
    }
    return ranges[lo]![0] + (p - starts[lo]!);
  };
}

/** Each group of S samples, from hash order to activation order (larger first, ties → lower row). */
export function sortSamples(rows: Uint32Array, acts: Float32Array | Float64Array, groups: number, S: number): void {
  const idx = Array.from({ length: S }, (_, p) => p);
  for (let g = 0; g < groups; g++) {
    const o = g * S;
    const r = rows.slice(o, o + S);
    const a = acts.slice(o, o + S);
    // Padding (NONE, 0) sorts last: its activation is below every sampled one.
    idx.sort((x, y) => (r[x] === FEATURE_STATS_NONE ? 1 : 0) - (r[y] === FEATURE_STATS_NONE ? 1 : 0) || a[y]! - a[x]! || r[x]! - r[y]!);
    for (let p = 0; p < S; p++) {
      rows[o + p] = r[idx[p]!]!;
      acts[o + p] = a[idx[p]!]!;
    }
  }
}
