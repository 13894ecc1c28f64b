// SAELens's run-time normalisation of each input row, and its inverse on the reconstruction:
//   normalize:   Xn = (X − μ) · a,  per row;  denormalize: X̂ ← X̂ · c + μ
//   MODE 0, constant_norm_rescale: μ = 0, a = √d / ‖x‖, c = 1/a
//   MODE 1, layer_norm:            μ = mean(x), s = std(x) with Bessel's correction, a = 1/(s + 1e-5), c = s
// (SAELens divides by s + ε on the way in and multiplies by s alone on the way out; so does this.)

override MODE: u32 = 0u;

struct RowNorm { B: u32, d: u32 }

@group(0) @binding(0) var<uniform> rn: RowNorm;
@group(0) @binding(1) var<storage, read> X: array<f32>;          // (B, d) raw rows
@group(0) @binding(2) var<storage, read_write> Xn: array<f32>;   // (B, d) normalised rows
@group(0) @binding(3) var<storage, read_write> coef: array<f32>; // (B, 3): μ, a, c
@group(0) @binding(4) var<storage, read_write> Xhat: array<f32>; // (B, dOut) reconstruction, in place

@compute @workgroup_size(64)
fn normalize_rows(@builtin(global_invocation_id) gid: vec3u) {
  let b = gid.x;
  if (b >= rn.B) { return; }
  let base = b * rn.d;
  var mu = 0.0;
  var a = 1.0;
  var c = 1.0;
  if (MODE == 0u) {
    var sq = 0.0;
    for (var j = 0u; j < rn.d; j++) { sq += X[base + j] * X[base + j]; }
    a = sqrt(f32(rn.d)) / sqrt(sq);
    c = 1.0 / a;
  } else {
    for (var j = 0u; j < rn.d; j++) { mu += X[base + j]; }
    mu = mu / f32(rn.d);
    var ss = 0.0;
    for (var j = 0u; j < rn.d; j++) { let e = X[base + j] - mu; ss += e * e; }
    let s = sqrt(ss / f32(rn.d - 1u));
    a = 1.0 / (s + 1e-5);
    c = s;
  }
  for (var j = 0u; j < rn.d; j++) { Xn[base + j] = (X[base + j] - mu) * a; }
  coef[3u * b] = mu;
  coef[3u * b + 1u] = a;
  coef[3u * b + 2u] = c;
}

@compute @workgroup_size(64)
fn denormalize_rows(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 64u;
  if (i >= rn.B * rn.d) { return; }
  let b = i / rn.d;
  Xhat[i] = Xhat[i] * coef[3u * b + 2u] + coef[3u * b];
}
