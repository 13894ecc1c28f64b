// The TopK decoder X̂[b] = Σ_r val[b,r] · W_dec[idx[b,r]] (+ b_dec), as the trainer and the evaluator both
// dispatch it: decode_wide (runs of 32 columns) where rows of d floats come in whole vec4s, else decode.
import { Kernel, dispatch, flatGrid, type Dispatch, type Resource } from './kernel.ts';
import type { Shard } from './shards.ts';

export interface SparseDecode {
  rows: number;
  d: number;
  /** picks per row read, from slot `offset` of rows of `stride` slots */
  K: number;
  stride: number;
  offset: number;
  bias: boolean;
  /** only the picks of this feature shard (W_dec is its rows), added to what the shards before wrote */
  shard?: Shard & { accumulate: boolean };
}

export function sparseDecode(
  device: GPUDevice,
  o: SparseDecode,
  bind: { sidx: Resource; sval: Resource; W_dec: Resource; b_dec: Resource; Xhat: Resource },
): { dispatch: Dispatch; uniform: GPUBuffer } {
  const wide = o.d % 4 === 0;
  const constants = { HAS_BIAS: o.bias, QUADS: wide, ...(o.shard?.accumulate ? { ACCUMULATE: true } : {}) };
  const k = Kernel.get(device, 'topk', wide ? 'decode_wide' : 'decode', constants);
  const shard = o.shard ?? { f0: 0, F: 0xffffffff };
  const du = k.uniform('du', { B: o.rows, d: o.d, K: o.K, stride: o.stride, offset: o.offset, f0: shard.f0, Fs: shard.F }).buffer;
  const grid = wide ? flatGrid(o.rows * Math.ceil(o.d / 32)) : flatGrid(o.rows * Math.ceil(o.d / 4), 256);
  return { dispatch: dispatch(k, { du, ...bind, W_dec4: bind.W_dec }, grid), uniform: du };
}
