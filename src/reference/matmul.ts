// Float64 reference of shaders/matmul.wgsl: C = op(A)·op(B) (+ bias) (then ReLU).
export interface MatmulOptions {
  transA?: boolean;
  transB?: boolean;
  bias?: ArrayLike<number>;
  relu?: boolean;
}

export function matmul64(
  A: ArrayLike<number>,
  B: ArrayLike<number>,
  M: number,
  N: number,
  K: number,
  opts: MatmulOptions = {},
): Float64Array {
  const C = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) {
        const a = opts.transA ? A[k * M + m]! : A[m * K + k]!;
        const b = opts.transB ? B[n * K + k]! : B[k * N + n]!;
        s += a * b;
      }
      if (opts.bias) s += opts.bias[n]!;
      C[m * N + n] = opts.relu ? Math.max(s, 0) : s;
    }
  }
  return C;
}
