// The start-up tuner: times every GEMM variant of shaders/matmul.wgsl on this adapter, for each GEMM of the
// run's step, and keeps the fastest only when it beats the default by more than the timings' own
// run-to-run noise, so a rerun on the same adapter picks the same. Choices are cached per adapter, shader
// source and problem (IndexedDB in the page, a file for the CLI) and recorded in the run's snapshot.
import type { TrainConfig } from './config.ts';
import { GEMM_VARIANTS, defaultGemmVariant, gemm, gemmApplies, gemmTile, type GemmShape, type GemmVariant } from './gemm.ts';
import { Rng } from './random.ts';
import { encodeDispatches, readBuffer, storage, timeSubmission, writeArray } from './kernel.ts';
import { checkFits } from './memory.ts';
import { ARCH_STEPS } from './steps/index.ts';
import { SHADERS } from './shaders.ts';

/** The GEMMs of a step, by what they compute (RECIPE §1). TopK's step has only the encoder's. */
export const GEMM_ROLES = ['encode', 'decode', 'backprop', 'gradDec', 'gradEnc'] as const;
export type GemmRole = (typeof GEMM_ROLES)[number];

/** The variant each GEMM of a run uses. */
export type GemmChoices = Partial<Record<GemmRole, GemmVariant>>;

export interface GemmProblem extends GemmShape {
  role: GemmRole;
  bias: boolean;
  relu: boolean;
}

/**
 * The step's GEMMs for `cfg`: C (M×N) = op(A)·op(B) with their epilogues, for a (feature shard of) F
 * features: a dictionary split into shards runs them once per shard.
 */
export function stepGemms(cfg: TrainConfig, F = cfg.features): GemmProblem[] {
  const p = (role: GemmRole, M: number, N: number, K: number, o: Partial<GemmProblem> = {}): GemmProblem =>
    ({ role, M, N, K, transA: false, transB: false, bias: false, relu: false, ...o });
  return ARCH_STEPS[cfg.arch].gemms(cfg, F, p);
}

export function defaultChoices(cfg: TrainConfig): GemmChoices {
  return Object.fromEntries(stepGemms(cfg).map((p) => [p.role, defaultGemmVariant(p)]));
}

/** What the tuner measured for one GEMM. */
export interface GemmTuning {
  role: GemmRole;
  /** the run's problem */
  problem: GemmProblem;
  /** the block of C timed (timedBlock) */
  block: { rows: number; cols: number };
  /** median ms per dispatch of each variant timed; a variant that cannot compute the shape is absent */
  medianMs: Partial<Record<GemmVariant, number>>;
  /** relative run-to-run spread of the timings: the margin a challenger must beat the default by */
  noise: number;
  /** variants left out, with why (their output differed from the default's, or they were far behind) */
  dropped: Partial<Record<GemmVariant, string>>;
  choice: GemmVariant;
}

export interface Tuning {
  adapter: string;
  choices: GemmChoices;
  gemms: GemmTuning[];
  /** how many of the GEMMs came from the cache */
  cached: number;
  /** wall time of the tuning, ms */
  ms: number;
}

/** Where choices persist between runs; keys name the adapter, the GEMM source and the problem. */
export interface TunerCache {
  get(key: string): Promise<GemmTuning | undefined>;
  put(key: string, value: GemmTuning): Promise<void>;
}

/** Timed problems do at most this much work per dispatch (20–100 ms on SwiftShader, µs on a GPU). */
export const TUNE_FLOPS = 2 ** 25;
/** Timing rounds per variant (their spread is the noise). */
const ROUNDS = 7;
/** A timed submission lasts at least this long, so a fast GPU's submit latency does not swamp it. */
const MIN_BATCH_MS = 30;
/**
 * The least margin a challenger must win by, however quiet one tuning's timings were: on a shared 2-core
 * machine two tunings' medians differed by up to this much, and with 10% a rerun chose differently.
 */
const MIN_MARGIN = 0.2;

/**
 * The variants within the noise of the fastest tie; among them the default wins, else the first in
 * GEMM_VARIANTS order, never simply the fastest: a close race between two challengers (or a challenger
 * and the default) must come out the same on a rerun. noise = the largest relative spread 2·MAD / median
 * (MAD: the median absolute deviation from the median) of any variant's rounds, and at least MIN_MARGIN.
 */
export function choose(incumbent: GemmVariant, rounds: Partial<Record<GemmVariant, number[]>>): { choice: GemmVariant; noise: number; medianMs: Partial<Record<GemmVariant, number>> } {
  const median = (xs: number[]) => {
    const sorted = [...xs].sort((a, b) => a - b);
    const h = sorted.length >> 1;
    return sorted.length % 2 ? sorted[h]! : (sorted[h - 1]! + sorted[h]!) / 2;
  };
  const medianMs: Partial<Record<GemmVariant, number>> = {};
  let noise = MIN_MARGIN;
  for (const [v, times] of Object.entries(rounds) as [GemmVariant, number[]][]) {
    const med = median(times);
    medianMs[v] = med;
    if (med > 0) noise = Math.max(noise, (2 * median(times.map((t) => Math.abs(t - med)))) / med);
  }
  if (medianMs[incumbent] === undefined) throw new Error(`the default GEMM variant ${incumbent} was not timed`);
  const best = Math.min(...(Object.values(medianMs) as number[]));
  const tied = (v: GemmVariant) => medianMs[v] !== undefined && medianMs[v]! <= best * (1 + noise);
  const choice = tied(incumbent) ? incumbent : GEMM_VARIANTS.find(tied)!;
  return { choice, noise, medianMs };
}

/**
 * The block of C the tuner times: all of it, or, for a problem larger than TUNE_FLOPS, its first rows and
 * columns, cut to multiples of 64 (every variant's workgroup tile divides 64), C's longer side first, but
 * no fewer than MIN_TILES tiles of 64×64. The
 * operands keep the run's full shapes and strides, so each workgroup reads memory as in the run (timing a
 * smaller matrix instead, a weight gradient cut to 64 batch rows ran 4× slower per flop on SwiftShader:
 * writing C outweighed the sums).
 */
export function timedBlock(p: GemmShape): { rows: number; cols: number } {
  let rows = p.M;
  let cols = p.N;
  const fit = (n: number) => {
    const flops = 2 * rows * cols * p.K;
    return flops <= TUNE_FLOPS ? n : Math.max(Math.min(n, 64), Math.floor((n * TUNE_FLOPS) / flops / 64) * 64);
  };
  if (rows >= cols) rows = fit(rows);
  cols = fit(cols);
  rows = fit(rows);
  // at least MIN_TILES workgroups of the largest tile where C has them, as the run has
  while (rows * cols < MIN_TILES * 64 * 64 && (cols < p.N || rows < p.M)) {
    if (cols < p.N) cols = Math.min(p.N, 2 * cols);
    else rows = Math.min(p.M, 2 * rows);
  }
  return { rows, cols };
}

/**
 * The least number of 64×64 tiles (the largest workgroup tile) in a timed block: a decoder GEMM with a long
 * reduction was cut to one 64×64 block, a single workgroup of vec8x8, which then ran on one of the 2 cores
 * while vec4x8's two workgroups used both, and a rerun of the tuner chose differently.
 */
export const MIN_TILES = 8;

function fnv1a(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}

export function cacheKey(adapter: string, p: GemmProblem): string {
  const flags = `${p.transA ? 'T' : 'N'}${p.transB ? 'T' : 'N'}${p.bias ? '+b' : ''}${p.relu ? '+relu' : ''}`;
  // the subgroup module holds every variant's source (matmul.wgsl and matmul-subgroups.wgsl)
  return `${adapter}|matmul@${fnv1a(SHADERS.matmul_subgroups)}|${p.M}x${p.N}x${p.K}${flags}`;
}

function seeded(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => rng.float() - 0.5);
}

/** Fill a buffer with seeded values, a bounded chunk at a time (the operands can be hundreds of MiB). */
function fill(device: GPUDevice, buffer: GPUBuffer, floats: number, seed: number): void {
  const chunk = seeded(Math.min(floats, 1 << 20), seed);
  for (let at = 0; at < floats; at += chunk.length) writeArray(device, buffer, at * 4, chunk.subarray(0, Math.min(chunk.length, floats - at)));
}

async function tuneGemm(device: GPUDevice, p: GemmProblem): Promise<Omit<GemmTuning, 'role' | 'problem'>> {
  const { M, N, K } = p;
  const block = timedBlock(p);
  const A = storage(device, 'tune A', M * K * 4);
  const B = storage(device, 'tune B', K * N * 4);
  const bias = storage(device, 'tune bias', N * 4);
  const C = storage(device, 'tune C', M * N * 4);
  fill(device, A, M * K, 1);
  fill(device, B, K * N, 2);
  fill(device, bias, N, 3);
  const incumbent = defaultGemmVariant(p);
  const candidates = GEMM_VARIANTS.filter((v) => gemmApplies(v, p, device.features));
  const dropped: Partial<Record<GemmVariant, string>> = {};
  const dispatches = new Map(candidates.map((v) => {
    const d = gemm(device, v, M, N, K, A, B, C, { transA: p.transA, transB: p.transB, bias: p.bias ? bias : undefined, relu: p.relu }, bias);
    const [rows, cols] = gemmTile(v);
    return [v, { ...d, workgroups: [Math.ceil(block.cols / cols), Math.ceil(block.rows / rows), 1] as [number, number, number] }];
  }));
  const run = async (v: GemmVariant, reps: number) => {
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    for (let i = 0; i < reps; i++) encodeDispatches(pass, [dispatches.get(v)!]);
    pass.end();
    return (await timeSubmission(device, enc.finish())) / reps;
  };
  const readBlock = async () => {
    const c = new Float32Array(await readBuffer(device, C, 0, block.rows * N * 4));
    const out = new Float32Array(block.rows * block.cols);
    for (let r = 0; r < block.rows; r++) out.set(c.subarray(r * N, r * N + block.cols), r * block.cols);
    return out;
  };
  try {
    // First runs of each: compiles, warms caches, checks the output against the default's, sizes the batches.
    let reference: Float32Array | undefined;
    const first = new Map<GemmVariant, number>();
    for (const v of [incumbent, ...candidates.filter((c) => c !== incumbent)]) {
      await run(v, 1);
      first.set(v, await run(v, 1));
      const out = await readBlock();
      if (!reference) reference = out;
      else if (!agrees(out, reference)) {
        dropped[v] = 'its output differed from the default variant\'s';
        first.delete(v);
      }
    }
    const fastest = Math.min(...first.values());
    for (const [v, ms] of first) {
      // far behind on its first run: no amount of noise lets it win, so spend no rounds on it
      if (v !== incumbent && ms > 2 * fastest) {
        dropped[v] = `more than twice the fastest's time on its first run (${ms.toFixed(2)} ms)`;
        first.delete(v);
      }
    }
    const reps = Math.max(1, Math.min(64, Math.ceil(MIN_BATCH_MS / Math.max(fastest, 1e-3))));
    const rounds: Partial<Record<GemmVariant, number[]>> = {};
    for (let r = 0; r < ROUNDS; r++) {
      // interleaved, so a change of machine load during the tuning hits every variant alike
      for (const v of first.keys()) (rounds[v] ??= []).push(await run(v, reps));
    }
    return { block, dropped, ...choose(incumbent, rounds) };
  } finally {
    for (const b of [A, B, bias, C]) b.destroy();
  }
}

/** Same values up to float rounding (sums in another order round differently). */
function agrees(a: Float32Array, b: Float32Array): boolean {
  let scale = 0;
  for (const x of b) scale = Math.max(scale, Math.abs(x));
  const tol = 1e-4 * Math.max(scale, 1e-6);
  for (let i = 0; i < a.length; i++) if (!(Math.abs(a[i]! - b[i]!) <= tol)) return false;
  return true;
}

/** Tune every GEMM of `cfg`'s step on `device` (described as `adapter`), through `cache` when given. */
export async function tuneStep(device: GPUDevice, adapter: string, cfg: TrainConfig, cache?: TunerCache): Promise<Tuning> {
  const t0 = performance.now();
  const gemms: GemmTuning[] = [];
  let cached = 0;
  // timed on the run's first feature shard (the whole dictionary, unless it must be split)
  for (const problem of stepGemms(cfg, checkFits(cfg, device.limits)[0]!.F)) {
    const key = cacheKey(adapter, problem);
    const hit = await cache?.get(key);
    if (hit && gemmApplies(hit.choice, problem, device.features)) {
      gemms.push(hit);
      cached++;
      continue;
    }
    const tuning: GemmTuning = { role: problem.role, problem, ...(await tuneGemm(device, problem)) };
    await cache?.put(key, tuning);
    gemms.push(tuning);
  }
  const choices: GemmChoices = Object.fromEntries(gemms.map((g) => [g.role, g.choice]));
  return { adapter, choices, gemms, cached, ms: performance.now() - t0 };
}

/** One line per GEMM: role, shape, each variant's median time, the noise, the choice. */
export function describeTuning(t: Tuning): string[] {
  return t.gemms.map((g) => {
    const p = g.problem;
    const times = (Object.entries(g.medianMs) as [GemmVariant, number][]).map(([v, ms]) => `${v} ${ms.toFixed(2)}`).join(', ');
    const cut = g.block.rows !== p.M || g.block.cols !== p.N ? ` (timed on C's first ${g.block.rows}×${g.block.cols})` : '';
    return `${g.role} ${p.M}×${p.N}×${p.K}${cut}: ${times} ms; noise ${(100 * g.noise).toFixed(0)}% → ${g.choice}`;
  });
}

/** "encode vec4x8 · decode vec4 · …": the variant of each GEMM a run uses. */
export function describeKernels(kernels: { matmul: GemmChoices }): string {
  return 'GEMM kernels: ' + GEMM_ROLES.filter((r) => kernels.matmul[r]).map((r) => `${r} ${kernels.matmul[r]}`).join(' · ');
}
