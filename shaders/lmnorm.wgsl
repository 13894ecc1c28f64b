// The transformer's norms, one invocation per row (a row is at most a few thousand values; rows are
// many, and a workgroup's barriers cost more than the sums):
//   layernorm: Y = (X − mean) / √(var + eps) · w + b      (var over the row, biased, as torch computes it)
//   rmsnorm:   Y = X / √(mean(X²) + eps) · w              (when RMS)
// The variance is summed around the mean (two passes), as torch does, not as E[X²] − mean².

override RMS: bool = false;

struct Norm { rows: u32, d: u32, eps: f32 }

@group(0) @binding(0) var<uniform> u: Norm;
@group(0) @binding(1) var<storage, read> X: array<f32>;        // (rows, d)
@group(0) @binding(2) var<storage, read> w: array<f32>;        // (d)
@group(0) @binding(3) var<storage, read> b: array<f32>;        // (d), read only for layernorm
@group(0) @binding(4) var<storage, read_write> Y: array<f32>;  // (rows, d)

@compute @workgroup_size(64)
fn norm(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let row = gid.x + gid.y * nwg.x * 64u;
  if (row >= u.rows) { return; }
  let base = row * u.d;
  var mean = 0.0;
  if (!RMS) {
    for (var j = 0u; j < u.d; j++) { mean += X[base + j]; }
    mean /= f32(u.d);
  }
  var sq = 0.0;
  for (var j = 0u; j < u.d; j++) { let c = X[base + j] - mean; sq += c * c; }
  let inv = inverseSqrt(sq / f32(u.d) + u.eps);
  for (var j = 0u; j < u.d; j++) {
    var y = (X[base + j] - mean) * inv * w[j];
    if (!RMS) { y += b[j]; }
    Y[base + j] = y;
  }
}
