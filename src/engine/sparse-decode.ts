// The TopK decoder X̂[b] = Σ_r val[b,r] · W_dec[idx[b,r]] (+ b_dec), as the trainer and the evaluator both
// dispatch it: decode_wide (runs of 32 columns) where rows of d floats come in whole vec4s, else decode.
import { Kernel, dispatch, flatGrid, type Dispatch, type Resource } from './kernel.ts';

export interface SparseDecode {
  rows: number;
  d: number;
  /** picks per row read, from slot `offset` of rows of `stride` slots */
  K: number;
  stride: number;
  offset: number;
  bias: boolean;
}

export function sparseDecode(
  device: GPUDevice,
  o: SparseDecode,
  bind: { sidx: Resource; sval: Resource; W_dec: Resource; b_dec: Resource; Xhat: Resource },
): { dispatch: Dispatch; uniform: GPUBuffer } {
  const wide = o.d % 4 === 0;
  const k = Kernel.get(device, 'topk', wide ? 'decode_wide' : 'decode', { HAS_BIAS: o.bias, QUADS: wide });
  const du = k.uniform('du', { B: o.rows, d: o.d, K: o.K, stride: o.stride, offset: o.offset }).buffer;
  const grid = wide ? flatGrid(o.rows * Math.ceil(o.d / 32)) : flatGrid(o.rows * Math.ceil(o.d / 4), 256);
  return { dispatch: dispatch(k, { du, ...bind, W_dec4: bind.W_dec }, grid), uniform: du };
}
