// C (M×N) = op(A) · op(B) [+ bias over columns] [then ReLU]   — every dense GEMM of a training step.
//   A is stored M×K row-major, or K×M when TRANS_A;  B is stored K×N, or N×K when TRANS_B.
// Version 1: register-blocked, no workgroup memory. Each invocation owns a 4×4 block of C and walks K in
// ascending order, so every output is one fixed-order sum (deterministic, no atomics). Loads past the
// edges read 0, so M, N, K need not be multiples of anything.

override TRANS_A: bool = false;
override TRANS_B: bool = false;
override HAS_BIAS: bool = false;
override RELU: bool = false;

struct Dims { M: u32, N: u32, K: u32 }

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;   // (N), read only when HAS_BIAS
@group(0) @binding(4) var<storage, read_write> C: array<f32>;

fn loadA(m: u32, k: u32) -> f32 {
  if (m >= dims.M) { return 0.0; }
  if (TRANS_A) { return A[k * dims.M + m]; }
  return A[m * dims.K + k];
}

fn loadB(k: u32, n: u32) -> f32 {
  if (n >= dims.N) { return 0.0; }
  if (TRANS_B) { return B[n * dims.K + k]; }
  return B[k * dims.N + n];
}

@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let m0 = gid.y * 4u;
  let n0 = gid.x * 4u;
  if (m0 >= dims.M || n0 >= dims.N) { return; }
  var acc: array<vec4f, 4>;
  for (var k = 0u; k < dims.K; k++) {
    let b = vec4f(loadB(k, n0), loadB(k, n0 + 1u), loadB(k, n0 + 2u), loadB(k, n0 + 3u));
    for (var r = 0u; r < 4u; r++) {
      acc[r] = fma(vec4f(loadA(m0 + r, k)), b, acc[r]);
    }
  }
  for (var r = 0u; r < 4u; r++) {
    let m = m0 + r;
    if (m >= dims.M) { break; }
    for (var c = 0u; c < 4u; c++) {
      let n = n0 + c;
      if (n >= dims.N) { break; }
      var value = acc[r][c];
      if (HAS_BIAS) { value += bias[n]; }
      if (RELU) { value = max(value, 0.0); }
      C[m * dims.N + n] = value;
    }
  }
}
