// The transformer's norms, one workgroup per row (64 lanes share the row's sums):
//   layernorm: Y = (X − mean) / √(var + eps) · w + b      (var over the row, biased, as torch computes it)
//   rmsnorm:   Y = X / √(mean(X²) + eps) · w              (when RMS)
// Each lane sums a strided part of the row, the 64 partial sums are then added in a fixed tree.

override RMS: bool = false;

struct Norm { rows: u32, d: u32, eps: f32 }

@group(0) @binding(0) var<uniform> u: Norm;
@group(0) @binding(1) var<storage, read> X: array<f32>;        // (rows, d)
@group(0) @binding(2) var<storage, read> w: array<f32>;        // (d)
@group(0) @binding(3) var<storage, read> b: array<f32>;        // (d), read only for layernorm
@group(0) @binding(4) var<storage, read_write> Y: array<f32>;  // (rows, d)

var<workgroup> part: array<f32, 64>;

/** the sum of every lane's `v`, the same in every lane */
fn rowSum(v: f32, lane: u32) -> f32 {
  part[lane] = v;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s >>= 1u) {
    if (lane < s) { part[lane] += part[lane + s]; }
    workgroupBarrier();
  }
  let total = part[0];
  workgroupBarrier();
  return total;
}

@compute @workgroup_size(64)
fn norm(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lane: u32) {
  let row = wg.x + wg.y * nwg.x;
  if (row >= u.rows) { return; }   // uniform across the workgroup
  let base = row * u.d;
  var mean = 0.0;
  if (!RMS) {
    var s = 0.0;
    for (var j = lane; j < u.d; j += 64u) { s += X[base + j]; }
    mean = rowSum(s, lane) / f32(u.d);
  }
  var sq = 0.0;
  for (var j = lane; j < u.d; j += 64u) { let c = X[base + j] - mean; sq += c * c; }
  let inv = inverseSqrt(rowSum(sq, lane) / f32(u.d) + u.eps);
  for (var j = lane; j < u.d; j += 64u) {
    var y = (X[base + j] - mean) * inv * w[j];
    if (!RMS) { y += b[j]; }
    Y[base + j] = y;
  }
}
