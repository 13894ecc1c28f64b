// TopK forward and the AuxK error terms (RECIPE §2). Latents stay sparse: (index, value) pairs per row.
//   select:     per row, the K largest pre-activations (ties → lower index), optionally only among dead
//               latents (MASKED, for AuxK); val = ReLU(pre); rows with fewer candidates pad with NONE/0.
//               One workgroup per row: K rounds, each a strided scan for the best entry ranked below the
//               previous pick, then a tree over the lanes — exact, deterministic, no sorting of F.
//   decode:     X̂[b] = Σ_r val[b,r] · W_dec[idx[b,r]] (+ b_dec when HAS_BIAS); one invocation per (b, j)
//   aux_mean:   ē_j = (1/B) Σ_b e_b,j with e = x' − x̂' (the main residual, gradient stopped)
//   aux_rows:   per row: ‖e_b − ē‖² and ‖ê_b − e_b‖²
//   aux_scale:  one workgroup: v_e = (1/B) Σ ‖e_b − ē‖² → stats[2]; dead count → stats[4];
//               stats[3] = α·2/(B·v_e) if any latent is dead, else 0
//   aux_grad:   Gaux = stats[3] · (ê − e)     (α g_aux: AuxK's gradient wrt ê, α folded in)

override MASKED: bool = false;
override HAS_BIAS: bool = false;
const NONE = 0xffffffffu;

struct Select { B: u32, F: u32, K: u32 }
struct Decode { B: u32, d: u32, K: u32 }
struct Aux { B: u32, d: u32, F: u32, alpha: f32 }

@group(0) @binding(0) var<uniform> su: Select;
@group(0) @binding(1) var<storage, read> pre: array<f32>;           // (B, F)
@group(0) @binding(2) var<storage, read> dead: array<u32>;          // (F), read when MASKED
@group(0) @binding(3) var<storage, read_write> idx: array<u32>;     // (B, K)
@group(0) @binding(4) var<storage, read_write> val: array<f32>;     // (B, K)

@group(0) @binding(5) var<uniform> du: Decode;
@group(0) @binding(6) var<storage, read> sidx: array<u32>;          // (B, K)
@group(0) @binding(7) var<storage, read> sval: array<f32>;          // (B, K)
@group(0) @binding(8) var<storage, read> W_dec: array<f32>;         // (F, d)
@group(0) @binding(9) var<storage, read> b_dec: array<f32>;         // (d), read when HAS_BIAS
@group(0) @binding(10) var<storage, read_write> Xhat: array<f32>;   // (B, d)

@group(0) @binding(11) var<uniform> au: Aux;
@group(0) @binding(12) var<storage, read> Xs: array<f32>;           // (B, d) x'
@group(0) @binding(13) var<storage, read> Xh: array<f32>;           // (B, d) x̂'
@group(0) @binding(14) var<storage, read> Eh: array<f32>;           // (B, d) ê
@group(0) @binding(15) var<storage, read_write> emean: array<f32>;  // (d)
@group(0) @binding(16) var<storage, read> emean_in: array<f32>;     // (d)
@group(0) @binding(17) var<storage, read_write> rowvar: array<f32>; // (B) ‖e_b − ē‖²
@group(0) @binding(18) var<storage, read_write> rowaux: array<f32>; // (B) ‖ê_b − e_b‖²
@group(0) @binding(19) var<storage, read> rowvar_in: array<f32>;    // (B)
@group(0) @binding(20) var<storage, read> dead_in: array<u32>;      // (F)
@group(0) @binding(21) var<storage, read_write> stats: array<f32>;
@group(0) @binding(22) var<storage, read> stats_in: array<f32>;
@group(0) @binding(23) var<storage, read_write> Gaux: array<f32>;   // (B, d)

const LANES = 64u;
var<workgroup> best_v: array<f32, 64>;
var<workgroup> best_i: array<u32, 64>;

// (v, i) ranks above (w, j): larger value first, then lower index.
fn above(v: f32, i: u32, w: f32, j: u32) -> bool { return v > w || (v == w && i < j); }

@compute @workgroup_size(64)
fn select_topk(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lane: u32) {
  let b = wid.x + wid.y * 65535u;
  if (b >= su.B) { return; }  // uniform per workgroup, so barriers below stay in uniform control flow
  let row = b * su.F;
  if (lane == 0u) {
    for (var r = 0u; r < su.K; r++) { idx[b * su.K + r] = NONE; val[b * su.K + r] = 0.0; }
  }
  var prev_v = 0.0;
  var prev_i = NONE;  // NONE: nothing picked yet, every candidate qualifies
  for (var r = 0u; r < su.K; r++) {
    var bv = 0.0;
    var bi = NONE;
    for (var i = lane; i < su.F; i += LANES) {
      if (MASKED && dead[i] == 0u) { continue; }
      let v = pre[row + i];
      if ((prev_i == NONE || above(prev_v, prev_i, v, i)) && (bi == NONE || above(v, i, bv, bi))) { bv = v; bi = i; }
    }
    best_v[lane] = bv;
    best_i[lane] = bi;
    for (var stride = LANES / 2u; stride > 0u; stride /= 2u) {
      workgroupBarrier();
      if (lane < stride) {
        let ov = best_v[lane + stride];
        let oi = best_i[lane + stride];
        if (oi != NONE && (best_i[lane] == NONE || above(ov, oi, best_v[lane], best_i[lane]))) {
          best_v[lane] = ov;
          best_i[lane] = oi;
        }
      }
    }
    let pick_i = workgroupUniformLoad(&best_i[0]);  // also the barrier after the tree
    let pick_v = best_v[0];
    workgroupBarrier();
    if (lane == 0u) {
      idx[b * su.K + r] = pick_i;
      val[b * su.K + r] = select(0.0, max(pick_v, 0.0), pick_i != NONE);
    }
    if (pick_i == NONE) { break; }  // no candidate left: the rest of the row stays NONE
    prev_v = pick_v;
    prev_i = pick_i;
  }
}

@compute @workgroup_size(64)
fn decode(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let t = gid.x + gid.y * nwg.x * 64u;
  if (t >= du.B * du.d) { return; }
  let b = t / du.d;
  let j = t % du.d;
  var s = 0.0;
  for (var r = 0u; r < du.K; r++) {
    let i = sidx[b * du.K + r];
    if (i != NONE) { s += sval[b * du.K + r] * W_dec[i * du.d + j]; }
  }
  if (HAS_BIAS) { s += b_dec[j]; }
  Xhat[t] = s;
}

@compute @workgroup_size(64)
fn aux_mean(@builtin(global_invocation_id) gid: vec3u) {
  let j = gid.x;
  if (j >= au.d) { return; }
  var s = 0.0;
  for (var b = 0u; b < au.B; b++) { s += Xs[b * au.d + j] - Xh[b * au.d + j]; }
  emean[j] = s / f32(au.B);
}

@compute @workgroup_size(64)
fn aux_rows(@builtin(global_invocation_id) gid: vec3u) {
  let b = gid.x;
  if (b >= au.B) { return; }
  var dev = 0.0;
  var aux = 0.0;
  for (var j = 0u; j < au.d; j++) {
    let t = b * au.d + j;
    let e = Xs[t] - Xh[t];
    dev += (e - emean_in[j]) * (e - emean_in[j]);
    aux += (Eh[t] - e) * (Eh[t] - e);
  }
  rowvar[b] = dev;
  rowaux[b] = aux;
}

var<workgroup> tree: array<f32, 256>;

fn tree_total(lane: u32, s: f32) -> f32 {
  workgroupBarrier();
  tree[lane] = s;
  for (var stride = 128u; stride > 0u; stride /= 2u) {
    workgroupBarrier();
    if (lane < stride) { tree[lane] += tree[lane + stride]; }
  }
  workgroupBarrier();
  return tree[0];
}

@compute @workgroup_size(256)
fn aux_scale(@builtin(local_invocation_index) lane: u32) {
  var s = 0.0;
  var nd = 0.0;
  for (var b = lane; b < au.B; b += 256u) { s += rowvar_in[b]; }
  for (var i = lane; i < au.F; i += 256u) { nd += f32(dead_in[i]); }
  let ve = tree_total(lane, s) / f32(au.B);
  let ndead = tree_total(lane, nd);
  if (lane == 0u) {
    stats[2] = ve;
    stats[4] = ndead;
    stats[3] = select(0.0, au.alpha * 2.0 / (f32(au.B) * ve), ndead > 0.0);
  }
}

@compute @workgroup_size(64)
fn aux_grad(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let t = gid.x + gid.y * nwg.x * 64u;
  if (t >= au.B * au.d) { return; }
  Gaux[t] = stats_in[3] * (Eh[t] - (Xs[t] - Xh[t]));
}
