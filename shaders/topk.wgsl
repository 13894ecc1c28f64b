// TopK forward and the AuxK error terms (RECIPE §2). Latents stay sparse: (index, value) pairs per row.
//   select:     per row, the K largest pre-activations (ties → lower index), optionally only among dead
//               latents (MASKED, for AuxK); val = ReLU(pre); rows with fewer candidates pad with NONE/0.
//               One invocation per row, one pass over F keeping the best K in order (K ≤ MAX_K).
//   decode:     X̂[b] = Σ_r val[b,r] · W_dec[idx[b,r]] (+ b_dec when HAS_BIAS); one invocation per (b, j)
//   aux_mean:   ē_j = (1/B) Σ_b e_b,j with e = x' − x̂' (the main residual, gradient stopped)
//   aux_rows:   per row: ‖e_b − ē‖² and ‖ê_b − e_b‖²
//   aux_scale:  one workgroup: v_e = (1/B) Σ ‖e_b − ē‖² → stats[2]; dead count → stats[4];
//               stats[3] = α·2/(B·v_e) if any latent is dead (and v_e > 0), else 0
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

// Selection keeps a sorted list of at most MAX_K (value, index) pairs in private memory; most entries are
// rejected by one comparison with the current K-th best, so a row costs about F comparisons.
const MAX_K = 512u;

// (v, i) ranks above (w, j): larger value first, then lower index.
fn above(v: f32, i: u32, w: f32, j: u32) -> bool { return v > w || (v == w && i < j); }

@compute @workgroup_size(64)
fn select_topk(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let b = gid.x + gid.y * nwg.x * 64u;
  if (b >= su.B) { return; }
  let K = min(su.K, MAX_K);
  var lv: array<f32, MAX_K>;
  var li: array<u32, MAX_K>;
  var n = 0u;
  for (var i = 0u; i < su.F; i++) {
    if (MASKED && dead[i] == 0u) { continue; }
    let v = pre[b * su.F + i];
    if (n == K && !above(v, i, lv[K - 1u], li[K - 1u])) { continue; }
    // Scanning i upwards, an equal value never ranks above an earlier index, so ties keep the lower one.
    var p = min(n, K - 1u);
    while (p > 0u && above(v, i, lv[p - 1u], li[p - 1u])) {
      lv[p] = lv[p - 1u];
      li[p] = li[p - 1u];
      p--;
    }
    lv[p] = v;
    li[p] = i;
    n = min(n + 1u, K);
  }
  for (var r = 0u; r < su.K; r++) {
    let o = b * su.K + r;
    if (r < n) { idx[o] = li[r]; val[o] = max(lv[r], 0.0); } else { idx[o] = NONE; val[o] = 0.0; }
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
    stats[3] = select(0.0, au.alpha * 2.0 / (f32(au.B) * ve), ndead > 0.0 && ve > 0.0);
  }
}

@compute @workgroup_size(64)
fn aux_grad(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let t = gid.x + gid.y * nwg.x * 64u;
  if (t >= au.B * au.d) { return; }
  Gaux[t] = stats_in[3] * (Eh[t] - (Xs[t] - Xh[t]));
}
