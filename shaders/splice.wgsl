// An SAE spliced into a language model at a hook, editing the activation x (rows, d) in place:
//   clamp_coef: coef[r, c] = clampTo[c] − f[r, feat[c]]   (how far each clamped feature moves, per row)
//   splice_out: x[r] = base[r] + Σ_c coef[r, c]·Wc[c] + steer
//               base = x (the error term kept: x = x̂ + (x − x̂)) or x̂ (the reconstruction alone)
//               rows with keep[r] = 1 (special tokens) keep x: only the steering vector is added there
//   fill:       x[r] = v for every row (zero or mean ablation)
// f comes from the SAE's encoder: dense (rows, F) for standard SAEs, the kept (idx, val) of each row for TopK.
// Since the decoder is linear, moving f_i by δ moves x̂ by δ·W_dec,i: Wc holds the clamped features' rows.

struct Splice { rows: u32, d: u32, F: u32, k: u32, nc: u32 }

override TOPK: bool = false;
override ERROR_TERM: bool = true;

@group(0) @binding(0) var<uniform> u: Splice;
@group(0) @binding(1) var<storage, read> acts: array<f32>;
@group(0) @binding(2) var<storage, read> idx: array<u32>;
@group(0) @binding(3) var<storage, read> val: array<f32>;
@group(0) @binding(4) var<storage, read> feat: array<u32>;
@group(0) @binding(5) var<storage, read> clampTo: array<f32>;
@group(0) @binding(6) var<storage, read_write> coef: array<f32>;

@group(0) @binding(7) var<storage, read_write> X: array<f32>;
@group(0) @binding(8) var<storage, read> Xhat: array<f32>;
@group(0) @binding(9) var<storage, read> Wc: array<f32>;
@group(0) @binding(10) var<storage, read> steer: array<f32>;
@group(0) @binding(11) var<storage, read> keep: array<u32>;
@group(0) @binding(12) var<storage, read> coefIn: array<f32>;

fn index(gid: vec3u, nwg: vec3u) -> u32 { return gid.x + gid.y * nwg.x * 64u; }

@compute @workgroup_size(64)
fn clamp_coef(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = index(gid, nwg);
  if (i >= u.rows * u.nc) { return; }
  let r = i / u.nc;
  let c = i % u.nc;
  let f = feat[c];
  var now = 0.0;
  if (TOPK) {
    for (var j = 0u; j < u.k; j++) {
      if (idx[r * u.k + j] == f) { now = val[r * u.k + j]; }
    }
  } else {
    now = acts[r * u.F + f];
  }
  coef[i] = clampTo[c] - now;
}

@compute @workgroup_size(64)
fn splice_out(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = index(gid, nwg);
  if (i >= u.rows * u.d) { return; }
  let r = i / u.d;
  let j = i % u.d;
  var x = X[i];
  if (keep[r] == 1u) {
    X[i] = x + steer[j];
    return;
  }
  if (!ERROR_TERM) { x = Xhat[i]; }
  x += steer[j];
  for (var c = 0u; c < u.nc; c++) { x += coefIn[r * u.nc + c] * Wc[c * u.d + j]; }
  X[i] = x;
}

@compute @workgroup_size(64)
fn fill(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = index(gid, nwg);
  if (i >= u.rows * u.d) { return; }
  X[i] = steer[i % u.d];
}
