// Test helpers for the float64 reference: random parameters, central finite differences, a toy dataset.
import { expect } from 'vitest';
import { defaultConfig, type DataStats, type TrainConfig } from '../../src/engine/config.ts';
import type { ParamName } from '../../src/engine/layout.ts';
import { cloneParams64, PARAM_NAMES, type Params64 } from '../../src/reference/params.ts';
import { Rng } from '../../src/engine/random.ts';

export function randn(rng: Rng, n: number, scale = 1, shift = 0): Float64Array {
  return Float64Array.from({ length: n }, () => shift + scale * rng.gaussian());
}

/** Arbitrary (not initial) parameters: every entry non-zero, decoder rows of different norms. */
export function randomParams(rng: Rng, d: number, F: number, bEncShift = 0): Params64 {
  return {
    W_enc: randn(rng, d * F, 0.6),
    b_enc: randn(rng, F, 0.3, bEncShift),
    W_dec: randn(rng, F * d, 0.5),
    b_dec: randn(rng, d, 0.3),
  };
}

export interface FdOptions {
  /** step of the central difference */
  h?: number;
  /** |fd − analytic| ≤ atol + rtol·|analytic| */
  atol?: number;
  rtol?: number;
  /** called on every perturbed point: asserts that the active set did not change */
  guard?: (p: Params64) => void;
}

/**
 * Central finite differences of `loss` for every entry of every parameter, compared with `grads`.
 * Returns the largest |fd − analytic| seen and how many entries had a non-negligible gradient.
 */
export function checkGradients(
  params: Params64, grads: Params64, loss: (p: Params64) => number, opts: FdOptions = {},
): { maxErr: number; nonZero: number } {
  const h = opts.h ?? 1e-6;
  const atol = opts.atol ?? 1e-8;
  const rtol = opts.rtol ?? 1e-6;
  let maxErr = 0;
  let nonZero = 0;
  for (const name of PARAM_NAMES) {
    for (let n = 0; n < params[name].length; n++) {
      const fd = (at(params, name, n, h, opts) - at(params, name, n, -h, opts)) / (2 * h);
      const an = grads[name][n]!;
      const err = Math.abs(fd - an);
      maxErr = Math.max(maxErr, err);
      if (Math.abs(an) > 1e-6) nonZero++;
      if (err > atol + rtol * Math.abs(an)) {
        expect.fail(`${name}[${n}]: analytic ${an}, finite difference ${fd} (|diff| ${err})`);
      }
    }
  }
  return { maxErr, nonZero };

  function at(p: Params64, name: ParamName, n: number, delta: number, o: FdOptions): number {
    const q = cloneParams64(p);
    q[name][n]! += delta;
    o.guard?.(q);
    return loss(q);
  }
}

/**
 * A toy dataset: each row is a sparse positive mix of `truth` random unit directions in R^d plus a
 * constant offset (so b_dec has something to learn), as float32 raw rows.
 */
export function toyData(rows: number, d: number, truth: number, seed: number): Float32Array {
  const rng = new Rng(seed, 77);
  const dirs = new Float64Array(truth * d);
  for (let t = 0; t < truth; t++) {
    let sq = 0;
    for (let j = 0; j < d; j++) sq += (dirs[t * d + j] = rng.gaussian()) ** 2;
    for (let j = 0; j < d; j++) dirs[t * d + j]! /= Math.sqrt(sq);
  }
  const x = new Float32Array(rows * d);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < d; j++) x[r * d + j] = 0.5 + 0.3 * j / d;
    for (let t = 0; t < truth; t++) {
      if (rng.float() >= 0.15) continue;
      const c = 1 + 2 * rng.float();
      for (let j = 0; j < d; j++) x[r * d + j]! += c * dirs[t * d + j]!;
    }
  }
  return x;
}

/** RECIPE §1 statistics of raw rows, straight from the definitions. */
export function statsOf(x: Float32Array, d: number): DataStats {
  const n = x.length / d;
  let norm = 0;
  for (let r = 0; r < n; r++) {
    let sq = 0;
    for (let j = 0; j < d; j++) sq += x[r * d + j]! ** 2;
    norm += Math.sqrt(sq) / n;
  }
  const scale = Math.sqrt(d) / norm;
  const mean = new Float64Array(d);
  for (let r = 0; r < n; r++) for (let j = 0; j < d; j++) mean[j]! += (scale * x[r * d + j]!) / n;
  let variance = 0;
  for (let r = 0; r < n; r++) for (let j = 0; j < d; j++) variance += (scale * x[r * d + j]! - mean[j]!) ** 2 / n;
  return { scale, mean, variance };
}

export function config(partial: Partial<TrainConfig> & Pick<TrainConfig, 'd'>): TrainConfig {
  return defaultConfig(partial);
}
