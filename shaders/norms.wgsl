// Decoder-row geometry: one invocation per feature row i of W_dec (F, d), summing over d in order.
//   row_norms: n_i = ‖W_dec,i‖                       (standard: the L1 penalty's weights)
//   project:   gW_i ← gW_i − (gW_i · w_i) w_i         (TopK: keep the gradient tangent to the unit sphere)
//   renorm:    w_i ← w_i / ‖w_i‖                      (TopK: back onto the unit sphere after Adam)
// project4 and renorm4 are the same where d % 4 == 0, reading and writing 4 floats at a time (one load and
// one bounds clamp instead of four); the vec4 views are separate entry points' because a buffer cannot be
// bound writable twice in one dispatch. Their sums run in 4 interleaved partial sums, added at the end.

struct Shape { F: u32, d: u32 }

@group(0) @binding(0) var<uniform> u: Shape;
@group(0) @binding(1) var<storage, read> W_dec: array<f32>;         // (F, d)
@group(0) @binding(2) var<storage, read_write> norms: array<f32>;   // (F)
@group(0) @binding(3) var<storage, read_write> gW_dec: array<f32>;  // (F, d) gradient of W_dec
@group(0) @binding(4) var<storage, read_write> W: array<f32>;       // (F, d) W_dec, written in place
@group(0) @binding(5) var<storage, read> W_dec4: array<vec4f>;
@group(0) @binding(6) var<storage, read_write> gW_dec4: array<vec4f>;
@group(0) @binding(7) var<storage, read_write> W4: array<vec4f>;

fn feature(gid: vec3u, nwg: vec3u) -> u32 { return gid.x + gid.y * nwg.x * 64u; }

@compute @workgroup_size(64)
fn row_norms(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = feature(gid, nwg);
  if (i >= u.F) { return; }
  var sq = 0.0;
  for (var j = 0u; j < u.d; j++) { let w = W_dec[i * u.d + j]; sq += w * w; }
  norms[i] = sqrt(sq);
}

@compute @workgroup_size(64)
fn project(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = feature(gid, nwg);
  if (i >= u.F) { return; }
  var dot = 0.0;
  for (var j = 0u; j < u.d; j++) { dot += gW_dec[i * u.d + j] * W_dec[i * u.d + j]; }
  for (var j = 0u; j < u.d; j++) { gW_dec[i * u.d + j] -= dot * W_dec[i * u.d + j]; }
}

@compute @workgroup_size(64)
fn renorm(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = feature(gid, nwg);
  if (i >= u.F) { return; }
  var sq = 0.0;
  for (var j = 0u; j < u.d; j++) { let w = W[i * u.d + j]; sq += w * w; }
  let inv = 1.0 / sqrt(sq);
  for (var j = 0u; j < u.d; j++) { W[i * u.d + j] *= inv; }
}

fn total(v: vec4f) -> f32 { return (v.x + v.y) + (v.z + v.w); }

@compute @workgroup_size(64)
fn project4(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = feature(gid, nwg);
  if (i >= u.F) { return; }
  let row = i * (u.d / 4u);
  var dot = vec4f(0.0);
  for (var j = 0u; j < u.d / 4u; j++) { dot = fma(gW_dec4[row + j], W_dec4[row + j], dot); }
  let t = total(dot);
  for (var j = 0u; j < u.d / 4u; j++) { gW_dec4[row + j] -= t * W_dec4[row + j]; }
}

@compute @workgroup_size(64)
fn renorm4(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = feature(gid, nwg);
  if (i >= u.F) { return; }
  let row = i * (u.d / 4u);
  var sq = vec4f(0.0);
  for (var j = 0u; j < u.d / 4u; j++) { let w = W4[row + j]; sq = fma(w, w, sq); }
  let inv = 1.0 / sqrt(total(sq));
  for (var j = 0u; j < u.d / 4u; j++) { W4[row + j] *= inv; }
}
