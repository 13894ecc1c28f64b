// Recording one GEMM of shaders/matmul.wgsl: the variant, its uniform, its bind group, its workgroups.
// Used by the trainer and the evaluator so both run exactly the same kernels.
import { Kernel, dispatch, type Dispatch, type Resource } from './kernel.ts';

/** Variants of shaders/matmul.wgsl (its header says what each does and needs). */
export const GEMM_VARIANTS = ['scalar', 'vec4', 'vec4x8', 'vec8x8', 'tiled32', 'tiled64', 'subgroup'] as const;
export type GemmVariant = (typeof GEMM_VARIANTS)[number];

const ENTRY: Record<GemmVariant, string> = { scalar: 'main', vec4: 'main_vec4', vec4x8: 'main_vec4x8', vec8x8: 'main_vec8x8', tiled32: 'tiled32', tiled64: 'tiled64', subgroup: 'main_subgroups' };
/** rows × columns of C one workgroup computes */
const TILE: Record<GemmVariant, [number, number]> = { scalar: [32, 32], vec4: [32, 32], vec4x8: [64, 32], vec8x8: [64, 64], tiled32: [32, 32], tiled64: [64, 64], subgroup: [32, 32] };

export interface GemmOptions {
  transA?: boolean;
  transB?: boolean;
  /** (N) added to every row */
  bias?: Resource;
  relu?: boolean;
  /** C += op(A)·op(B): a feature shard's part of the decoder (no bias or ReLU with it) */
  accumulate?: boolean;
}

/** C (M×N) = op(A)·op(B): the problem a variant is chosen for. */
export interface GemmShape {
  M: number;
  N: number;
  K: number;
  transA: boolean;
  transB: boolean;
}

/**
 * Whether `variant` can compute `shape` (on a device with `features`): the vec4 kinds need whole vec4s along
 * each operand's contiguous dimension; the subgroup one also a device with subgroups, and no TRANS_A.
 */
export function gemmApplies(variant: GemmVariant, s: GemmShape, features?: ReadonlySet<string>): boolean {
  if (variant === 'subgroup') return !!features?.has('subgroups') && !s.transA && s.N % 4 === 0 && s.K % 4 === 0;
  if (variant === 'vec8x8') return !s.transA && !s.transB && s.N % 4 === 0 && s.K % 4 === 0;
  if (variant !== 'vec4' && variant !== 'vec4x8') return true;
  if (s.transA && s.transB) return false;
  return s.N % 4 === 0 && (s.transA ? s.M % 4 === 0 : s.K % 4 === 0);
}

/**
 * The variant used when nothing was tuned, and the one a challenger must beat by more than the noise:
 * vec8x8 where it applies (neither operand transposed), else vec4x8 where the vec4 kinds apply, else
 * scalar. All three vec4 kinds compute the same sums in the same order; on SwiftShader vec4x8 beat vec4 in
 * every GEMM of the benchmark's tunings, and vec8x8 beat vec4x8 by 15-28% in every GEMM it can compute.
 */
export function defaultGemmVariant(s: GemmShape): GemmVariant {
  if (gemmApplies('vec8x8', s)) return 'vec8x8';
  return gemmApplies('vec4x8', s) ? 'vec4x8' : 'scalar';
}

/** Rows × columns of C one workgroup of `variant` computes. */
export function gemmTile(variant: GemmVariant): [number, number] {
  return TILE[variant];
}

/** C (M×N) = op(A)·op(B) [+ bias] [ReLU]; `dummy` is bound where the variant reads no bias. */
export function gemm(
  device: GPUDevice,
  variant: GemmVariant,
  M: number, N: number, K: number,
  A: Resource, B: Resource, C: Resource,
  o: GemmOptions,
  dummy: Resource,
): Dispatch {
  if (!gemmApplies(variant, { M, N, K, transA: !!o.transA, transB: !!o.transB }, device.features)) {
    throw new Error(`GEMM variant ${variant} cannot compute ${M}×${N}×${K}${o.transA ? ' transA' : ''}${o.transB ? ' transB' : ''}`);
  }
  const kernel = Kernel.get(device, variant === 'subgroup' ? 'matmul_subgroups' : 'matmul', ENTRY[variant], {
    TRANS_A: !!o.transA, TRANS_B: !!o.transB, HAS_BIAS: !!o.bias, RELU: !!o.relu, ...(o.accumulate ? { ACCUMULATE: true } : {}),
  });
  const dims = kernel.uniform('dims', { M, N, K }).buffer;
  const bias = o.bias ?? dummy;
  const vec4 = variant === 'vec4' || variant === 'vec4x8' || variant === 'vec8x8' || variant === 'subgroup';
  const resources: Record<string, Resource> = vec4 ? { dims, A4: A, B4: B, bias4: bias, C4: C } : { dims, A, B, bias, C };
  const [rows, cols] = gemmTile(variant);
  return dispatch(kernel, resources, [Math.ceil(N / cols), Math.ceil(M / rows)]);
}
