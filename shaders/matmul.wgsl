// C (M×N) = op(A) · op(B) [+ bias over columns] [then ReLU]   — every dense GEMM of a training step.
//   A is stored M×K row-major, or K×M when TRANS_A;  B is stored K×N, or N×K when TRANS_B.
// Every variant: each invocation owns a 4×4 block of C (main_vec4x8: 8×4) and walks K in ascending order,
// so every output is one fixed-order sum. The start-up tuner (engine/tuner.ts) times them on the adapter and
// keeps the fastest. Loops over a block's rows have constant bounds: with a pipeline-overridable bound
// SwiftShader kept the accumulators in memory and the transA GEMMs ran 4× slower (docs/KERNEL-NOTES.md).
//   main       register-blocked, scalar loads, no workgroup memory; loads past the edges read 0, so M, N, K
//              may be anything.
//   main_vec4  vec4 loads along the contiguous dimension of each operand; needs N % 4 == 0, and K % 4 == 0
//              (not TRANS_A) or M % 4 == 0 (TRANS_A); M may be anything when not TRANS_A. TRANS_A with
//              TRANS_B is not offered (no step needs it).
//   main_vec4x8 main_vec4 with 8 rows per invocation (each B load serves twice the FMAs); same needs.
//   main_vec8x8 main_vec4x8 with 8 columns as well (each A load serves twice the FMAs); the same needs,
//              and neither operand transposed.
//   tiled32    workgroup-tiled: 8×8 invocations stage a 32-deep slice of A's 32 rows and B's 32 columns in
//              workgroup memory, then each accumulates its 4×4 block from there. Any shape, any transposes.
//   tiled64    the same with 16×16 invocations, 64×64 tiles, 16-deep slices.
//   The tiled variants do main's arithmetic in main's order (one fma per k, k ascending), so their outputs
//   equal main's bit for bit; they differ only in how operands reach the invocation.

override TRANS_A: bool = false;
override TRANS_B: bool = false;
override HAS_BIAS: bool = false;
override RELU: bool = false;
// C += op(A)·op(B) instead of C = …: one feature shard's part of a sum over features (the decoder of a
// dictionary split into shards, engine/shards.ts), shards added in order; no bias or ReLU then.
override ACCUMULATE: bool = false;

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
  storeBlock(m0, n0, acc);
}

@group(0) @binding(5) var<storage, read> A4: array<vec4f>;
@group(0) @binding(6) var<storage, read> B4: array<vec4f>;
@group(0) @binding(7) var<storage, read> bias4: array<vec4f>;   // (N/4), read only when HAS_BIAS
@group(0) @binding(8) var<storage, read_write> C4: array<vec4f>;

// Where A's row m starts, as a vec4 index (not TRANS_A). Rows past M start at row M − 1: their sums are
// computed and never stored, so the vec4 kinds' inner loops need no bounds test (with one, SwiftShader ran
// the TopK encoder GEMM about 7% slower). Their loops also step each operand's index rather than work it out
// from k (the TRANS_A GEMMs of a dense step took 18% longer that way).
fn rowStart4(m: u32) -> u32 { return min(m, dims.M - 1u) * (dims.K / 4u); }

// A's row m, k..k+3 (not TRANS_A); rows past M read 0. (The subgroup variant's loads.)
fn rowA4(m: u32, k: u32) -> vec4f {
  if (m >= dims.M) { return vec4f(0.0); }
  return A4[(m * dims.K + k) / 4u];
}

// C[m, n0..n0+3] with the epilogue, for the vec4 variants; rows past M are not written.
fn storeRow4(m: u32, n0: u32, acc: vec4f) {
  if (m >= dims.M) { return; }
  let o = (m * dims.N + n0) / 4u;
  var value = acc;
  if (ACCUMULATE) { value += C4[o]; }
  if (HAS_BIAS) { value += bias4[n0 / 4u]; }
  if (RELU) { value = max(value, vec4f(0.0)); }
  C4[o] = value;
}

@compute @workgroup_size(8, 8)
fn main_vec4(@builtin(global_invocation_id) gid: vec3u) {
  let m0 = gid.y * 4u;
  let n0 = gid.x * 4u;
  if (m0 >= dims.M || n0 >= dims.N) { return; }
  var acc: array<vec4f, 4>;  // acc[r] = C[m0 + r, n0..n0+3]
  if (TRANS_A) {
    // A is K×M: A[k, m0..m0+3] is one vec4; B is K×N: B[k, n0..n0+3] is one vec4. Both indices step a
    // row at a time.
    let as4 = dims.M / 4u;
    let bs = dims.N / 4u;
    var ai = m0 / 4u;
    var bi = n0 / 4u;
    for (var k = 0u; k < dims.K; k++) {
      let a = A4[ai];
      let b = B4[bi];
      ai += as4;
      bi += bs;
      acc[0] = fma(vec4f(a.x), b, acc[0]);
      acc[1] = fma(vec4f(a.y), b, acc[1]);
      acc[2] = fma(vec4f(a.z), b, acc[2]);
      acc[3] = fma(vec4f(a.w), b, acc[3]);
    }
  } else {
    var ai: array<u32, 4>; // each row's start, k counted in vec4s from there
    for (var r = 0u; r < 4u; r++) { ai[r] = rowStart4(m0 + r); }
    let ks = dims.K / 4u;
    if (TRANS_B) {
      // B is N×K: B[n, k..k+3] is one vec4, so each output is a running sum of 4-wide dot products.
      let bi = n0 * ks;
      for (var k = 0u; k < ks; k++) {
        let b0 = B4[bi + k];
        let b1 = B4[bi + ks + k];
        let b2 = B4[bi + 2u * ks + k];
        let b3 = B4[bi + 3u * ks + k];
        for (var r = 0u; r < 4u; r++) {
          let a = A4[ai[r] + k];
          acc[r] += vec4f(dot(a, b0), dot(a, b1), dot(a, b2), dot(a, b3));
        }
      }
    } else {
      let bs = dims.N / 4u; // B's rows k..k+3 at n0, stepping four rows at a time
      var bi = n0 / 4u;
      for (var k = 0u; k < ks; k++) {
        let b0 = B4[bi];
        let b1 = B4[bi + bs];
        let b2 = B4[bi + 2u * bs];
        let b3 = B4[bi + 3u * bs];
        bi += 4u * bs;
        for (var r = 0u; r < 4u; r++) {
          let a = A4[ai[r] + k];
          acc[r] = fma(vec4f(a.w), b3, fma(vec4f(a.z), b2, fma(vec4f(a.y), b1, fma(vec4f(a.x), b0, acc[r]))));
        }
      }
    }
  }
  for (var r = 0u; r < 4u; r++) { storeRow4(m0 + r, n0, acc[r]); }
}

// main_vec4 with 8 rows of C per invocation: each B load serves twice the FMAs. Same sums, same order.
@compute @workgroup_size(8, 8)
fn main_vec4x8(@builtin(global_invocation_id) gid: vec3u) {
  let m0 = gid.y * 8u;
  let n0 = gid.x * 4u;
  if (m0 >= dims.M || n0 >= dims.N) { return; }
  var acc: array<vec4f, 8>;  // acc[r] = C[m0 + r, n0..n0+3]
  if (TRANS_A) {
    // A is K×M: A[k, m0..m0+3] is one vec4; B is K×N: B[k, n0..n0+3] is one vec4. Both indices step a
    // row at a time.
    let as4 = dims.M / 4u;
    let bs = dims.N / 4u;
    var ai = m0 / 4u;
    var bi = n0 / 4u;
    for (var k = 0u; k < dims.K; k++) {
      let a = A4[ai];
      let c = A4[ai + 1u];
      let b = B4[bi];
      ai += as4;
      bi += bs;
      acc[0] = fma(vec4f(a.x), b, acc[0]);
      acc[1] = fma(vec4f(a.y), b, acc[1]);
      acc[2] = fma(vec4f(a.z), b, acc[2]);
      acc[3] = fma(vec4f(a.w), b, acc[3]);
      acc[4] = fma(vec4f(c.x), b, acc[4]);
      acc[5] = fma(vec4f(c.y), b, acc[5]);
      acc[6] = fma(vec4f(c.z), b, acc[6]);
      acc[7] = fma(vec4f(c.w), b, acc[7]);
    }
  } else {
    var ai: array<u32, 8>; // each row's start, k counted in vec4s from there
    for (var r = 0u; r < 8u; r++) { ai[r] = rowStart4(m0 + r); }
    let ks = dims.K / 4u;
    if (TRANS_B) {
      // B is N×K: B[n, k..k+3] is one vec4, so each output is a running sum of 4-wide dot products.
      let bi = n0 * ks;
      for (var k = 0u; k < ks; k++) {
        let b0 = B4[bi + k];
        let b1 = B4[bi + ks + k];
        let b2 = B4[bi + 2u * ks + k];
        let b3 = B4[bi + 3u * ks + k];
        for (var r = 0u; r < 8u; r++) {
          let a = A4[ai[r] + k];
          acc[r] += vec4f(dot(a, b0), dot(a, b1), dot(a, b2), dot(a, b3));
        }
      }
    } else {
      let bs = dims.N / 4u; // B's rows k..k+3 at n0, stepping four rows at a time
      var bi = n0 / 4u;
      for (var k = 0u; k < ks; k++) {
        let b0 = B4[bi];
        let b1 = B4[bi + bs];
        let b2 = B4[bi + 2u * bs];
        let b3 = B4[bi + 3u * bs];
        bi += 4u * bs;
        for (var r = 0u; r < 8u; r++) {
          let a = A4[ai[r] + k];
          acc[r] = fma(vec4f(a.w), b3, fma(vec4f(a.z), b2, fma(vec4f(a.y), b1, fma(vec4f(a.x), b0, acc[r]))));
        }
      }
    }
  }
  for (var r = 0u; r < 8u; r++) { storeRow4(m0 + r, n0, acc[r]); }
}

// main_vec4x8 with 8 columns as well (two vec4s of each of B's rows), neither operand transposed: each A
// load serves 8 FMAs instead of 4. A software adapter gathers every loaded float lane by lane, so the FMAs
// per load decide its speed; the 64 accumulators spill, but spills are plain loads. Same sums, same order.
@compute @workgroup_size(8, 8)
fn main_vec8x8(@builtin(global_invocation_id) gid: vec3u) {
  let m0 = gid.y * 8u;
  let n0 = gid.x * 8u;
  if (m0 >= dims.M || n0 >= dims.N) { return; }
  var acc: array<vec4f, 8>;  // acc[r] = C[m0 + r, n0..n0+3]
  var acd: array<vec4f, 8>;  // acd[r] = C[m0 + r, n0+4..n0+7]
  var ai: array<u32, 8>;
  for (var r = 0u; r < 8u; r++) { ai[r] = rowStart4(m0 + r); }
  let ks = dims.K / 4u;
  let bs = dims.N / 4u;
  var bi = n0 / 4u;
  for (var k = 0u; k < ks; k++) {
    let b0 = B4[bi];
    let b1 = B4[bi + bs];
    let b2 = B4[bi + 2u * bs];
    let b3 = B4[bi + 3u * bs];
    let c0 = B4[bi + 1u];
    let c1 = B4[bi + bs + 1u];
    let c2 = B4[bi + 2u * bs + 1u];
    let c3 = B4[bi + 3u * bs + 1u];
    bi += 4u * bs;
    for (var r = 0u; r < 8u; r++) {
      let a = A4[ai[r] + k];
      acc[r] = fma(vec4f(a.w), b3, fma(vec4f(a.z), b2, fma(vec4f(a.y), b1, fma(vec4f(a.x), b0, acc[r]))));
      acd[r] = fma(vec4f(a.w), c3, fma(vec4f(a.z), c2, fma(vec4f(a.y), c1, fma(vec4f(a.x), c0, acd[r]))));
    }
  }
  // where N % 8 == 4, the last column block's second half lies past the row: read (clamped), never stored
  for (var r = 0u; r < 8u; r++) {
    storeRow4(m0 + r, n0, acc[r]);
    if (n0 + 4u < dims.N) { storeRow4(m0 + r, n0 + 4u, acd[r]); }
  }
}

// Workgroup-tiled variants. A slice holds DEPTH consecutive k for WIDTH rows of A (or columns of B),
// stored [k][row]. Each operand is read along its contiguous dimension: consecutive invocations load
// consecutive addresses whichever way the operand is stored.
var<workgroup> sliceA32: array<f32, 1024>;  // 32 k × 32 rows
var<workgroup> sliceB32: array<f32, 1024>;  // 32 k × 32 columns
var<workgroup> sliceA64: array<f32, 1024>;  // 16 k × 64 rows
var<workgroup> sliceB64: array<f32, 1024>;  // 16 k × 64 columns

// Element t of a DEPTH × WIDTH slice as (k offset, row or column offset), walking the contiguous dimension
// fastest: along k for A stored M×K (not TRANS_A) and for B stored N×K (TRANS_B), along rows/columns else.
fn sliceCoord(t: u32, depth: u32, width: u32, alongK: bool) -> vec2u {
  if (alongK) { return vec2u(t % depth, t / depth); }
  return vec2u(t / width, t % width);
}

fn loadAk(m: u32, k: u32) -> f32 {
  if (k >= dims.K) { return 0.0; }
  return loadA(m, k);
}

fn loadBk(k: u32, n: u32) -> f32 {
  if (k >= dims.K) { return 0.0; }
  return loadB(k, n);
}

fn storeBlock(m0: u32, n0: u32, acc: array<vec4f, 4>) {
  for (var r = 0u; r < 4u; r++) {
    let m = m0 + r;
    if (m >= dims.M) { break; }
    for (var c = 0u; c < 4u; c++) {
      let n = n0 + c;
      if (n >= dims.N) { break; }
      var value = acc[r][c];
      if (ACCUMULATE) { value += C[m * dims.N + n]; }
      if (HAS_BIAS) { value += bias[n]; }
      if (RELU) { value = max(value, 0.0); }
      C[m * dims.N + n] = value;
    }
  }
}

@compute @workgroup_size(8, 8)
fn tiled32(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u, @builtin(local_invocation_index) li: u32) {
  let mBase = wid.y * 32u;
  let nBase = wid.x * 32u;
  var acc: array<vec4f, 4>;
  for (var k0 = 0u; k0 < dims.K; k0 += 32u) {
    for (var t = li; t < 1024u; t += 64u) {
      let a = sliceCoord(t, 32u, 32u, !TRANS_A);
      sliceA32[a.x * 32u + a.y] = loadAk(mBase + a.y, k0 + a.x);
      let b = sliceCoord(t, 32u, 32u, TRANS_B);
      sliceB32[b.x * 32u + b.y] = loadBk(k0 + b.x, nBase + b.y);
    }
    workgroupBarrier();
    let depth = min(32u, dims.K - k0);
    for (var kk = 0u; kk < depth; kk++) {
      let bo = kk * 32u + lid.x * 4u;
      let b = vec4f(sliceB32[bo], sliceB32[bo + 1u], sliceB32[bo + 2u], sliceB32[bo + 3u]);
      let ao = kk * 32u + lid.y * 4u;
      for (var r = 0u; r < 4u; r++) { acc[r] = fma(vec4f(sliceA32[ao + r]), b, acc[r]); }
    }
    workgroupBarrier();
  }
  storeBlock(mBase + lid.y * 4u, nBase + lid.x * 4u, acc);
}

@compute @workgroup_size(16, 16)
fn tiled64(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u, @builtin(local_invocation_index) li: u32) {
  let mBase = wid.y * 64u;
  let nBase = wid.x * 64u;
  var acc: array<vec4f, 4>;
  for (var k0 = 0u; k0 < dims.K; k0 += 16u) {
    for (var t = li; t < 1024u; t += 256u) {
      let a = sliceCoord(t, 16u, 64u, !TRANS_A);
      sliceA64[a.x * 64u + a.y] = loadAk(mBase + a.y, k0 + a.x);
      let b = sliceCoord(t, 16u, 64u, TRANS_B);
      sliceB64[b.x * 64u + b.y] = loadBk(k0 + b.x, nBase + b.y);
    }
    workgroupBarrier();
    let depth = min(16u, dims.K - k0);
    for (var kk = 0u; kk < depth; kk++) {
      let bo = kk * 64u + lid.x * 4u;
      let b = vec4f(sliceB64[bo], sliceB64[bo + 1u], sliceB64[bo + 2u], sliceB64[bo + 3u]);
      let ao = kk * 64u + lid.y * 4u;
      for (var r = 0u; r < 4u; r++) { acc[r] = fma(vec4f(sliceA64[ao + r]), b, acc[r]); }
    }
    workgroupBarrier();
  }
  storeBlock(mBase + lid.y * 4u, nBase + lid.x * 4u, acc);
}
