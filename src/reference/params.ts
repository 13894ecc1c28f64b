// The reference's parameter containers: the float64 twin of the engine's Params32, and conversions.
// Layout (row-major): W_enc (d, F) at [j*F + i]; b_enc (F); W_dec (F, d) at [i*d + j]; b_dec (d).
// (Both trainers start from the engine's initParams: the initialisation is an input, not math under test.)
import { PARAM_NAMES } from '../engine/layout.ts';
import type { Params32 } from '../engine/run-state.ts';

export { PARAM_NAMES, type Params32 };

/** The same parameters (or gradients, or Adam moments) in float64, as the reference holds them. */
export interface Params64 {
  /** (d, F) */
  W_enc: Float64Array;
  /** (F) */
  b_enc: Float64Array;
  /** (F, d) decoder rows */
  W_dec: Float64Array;
  /** (d) */
  b_dec: Float64Array;
}

export function toParams64(p: Params32 | Params64): Params64 {
  return {
    W_enc: Float64Array.from(p.W_enc),
    b_enc: Float64Array.from(p.b_enc),
    W_dec: Float64Array.from(p.W_dec),
    b_dec: Float64Array.from(p.b_dec),
  };
}

/** Rounds each value to float32. */
export function toParams32(p: Params64 | Params32): Params32 {
  return {
    W_enc: Float32Array.from(p.W_enc),
    b_enc: Float32Array.from(p.b_enc),
    W_dec: Float32Array.from(p.W_dec),
    b_dec: Float32Array.from(p.b_dec),
  };
}

/** All-zero float64 parameters of the given shape. */
export function zeroParams64(d: number, F: number): Params64 {
  return { W_enc: new Float64Array(d * F), b_enc: new Float64Array(F), W_dec: new Float64Array(F * d), b_dec: new Float64Array(d) };
}

export function cloneParams64(p: Params64): Params64 {
  return toParams64(p);
}

/** sqrt of the sum of squares over every parameter (the global gradient norm when p holds gradients). */
export function globalNorm(p: Params64 | Params32): number {
  let s = 0;
  for (const name of PARAM_NAMES) for (const x of p[name]) s += x * x;
  return Math.sqrt(s);
}
