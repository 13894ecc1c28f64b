// Per-row work on the batch: input preparation and the reconstruction residual.
//   prepare:  Xs = scale · X   (training inputs x' = s·x);   Xc = Xs − b_dec when CENTER (TopK), else Xs
//   residual: G = coef · (X̂ − Xs)  with coef = 2/B (standard) or 2/(B·v) (TopK);  rowsq[b] = ‖X̂_b − Xs_b‖²
//   place:    wide[b, f0 + c] = part[b, c]: one feature shard's (B, Fs) activations into the (B, F) ones

struct Rows { B: u32, d: u32, scale: f32, center: u32, coef: f32 }

@group(0) @binding(0) var<uniform> u: Rows;
@group(0) @binding(1) var<storage, read> X: array<f32>;          // (B, d) raw rows
@group(0) @binding(2) var<storage, read> b_dec: array<f32>;      // (d)
@group(0) @binding(3) var<storage, read_write> Xs: array<f32>;   // (B, d) scaled rows
@group(0) @binding(4) var<storage, read_write> Xc: array<f32>;   // (B, d) encoder input
@group(0) @binding(5) var<storage, read> Xhat: array<f32>;       // (B, d) reconstruction
@group(0) @binding(6) var<storage, read_write> G: array<f32>;    // (B, d) ∂L/∂X̂
@group(0) @binding(7) var<storage, read_write> rowsq: array<f32>; // (B)

@compute @workgroup_size(64)
fn prepare(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 64u;
  if (i >= u.B * u.d) { return; }
  let xs = u.scale * X[i];
  Xs[i] = xs;
  if (u.center != 0u) { Xc[i] = xs - b_dec[i % u.d]; } else { Xc[i] = xs; }
}

@compute @workgroup_size(64)
fn residual(@builtin(global_invocation_id) gid: vec3u) {
  let b = gid.x;
  if (b >= u.B) { return; }
  var sq = 0.0;
  for (var j = 0u; j < u.d; j++) {
    let i = b * u.d + j;
    let e = Xhat[i] - Xs[i];
    G[i] = u.coef * e;
    sq += e * e;
  }
  rowsq[b] = sq;
}

struct Place { B: u32, F: u32, f0: u32, Fs: u32 }

@group(0) @binding(8) var<uniform> pl: Place;
@group(0) @binding(9) var<storage, read> part: array<f32>;          // (B, Fs)
@group(0) @binding(10) var<storage, read_write> wide: array<f32>;   // (B, F)

@compute @workgroup_size(64)
fn place(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 64u;
  if (i >= pl.B * pl.Fs) { return; }
  let b = i / pl.Fs;
  wide[b * pl.F + pl.f0 + i % pl.Fs] = part[i];
}
