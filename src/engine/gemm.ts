// Recording one GEMM of shaders/matmul.wgsl: the variant, its uniform, its bind group, its workgroups.
// Used by the trainer and the evaluator so both run exactly the same kernels.
import { Kernel, dispatch, matmulGrid, type Dispatch, type Resource } from './kernel.ts';

/** Variants of shaders/matmul.wgsl; 'vec4' needs the shapes its header states. */
export type GemmVariant = 'scalar' | 'vec4';

export interface GemmOptions {
  transA?: boolean;
  transB?: boolean;
  /** (N) added to every row */
  bias?: Resource;
  relu?: boolean;
}

/** The fastest variant the shapes allow: vec4 when every width involved is a multiple of 4. */
export function gemmVariantFor(d: number, features: number): GemmVariant {
  return d % 4 === 0 && features % 4 === 0 ? 'vec4' : 'scalar';
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
  const vec4 = variant === 'vec4';
  const kernel = Kernel.get(device, 'matmul', vec4 ? 'main_vec4' : 'main', {
    TRANS_A: !!o.transA, TRANS_B: !!o.transB, HAS_BIAS: !!o.bias, RELU: !!o.relu,
  });
  const dims = kernel.uniform('dims', { M, N, K }).buffer;
  const bias = o.bias ?? dummy;
  const resources: Record<string, Resource> = vec4 ? { dims, A4: A, B4: B, bias4: bias, C4: C } : { dims, A, B, bias, C };
  return dispatch(kernel, resources, matmulGrid(M, N));
}
