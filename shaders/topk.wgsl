// TopK forward and the AuxK error terms (RECIPE §2). Latents stay sparse: (index, value) pairs per row.
//   select:     per row, the K largest pre-activations (ties → lower index), optionally only among dead
//               latents (MASKED, for AuxK); val = ReLU(pre); rows with fewer candidates pad with NONE/0.
//               One invocation per row, one pass over F keeping the best K in a heap (K ≤ MAX_K).
//   decode:     X̂[b] = Σ_r val[b,r] · W_dec[idx[b,r]] (+ b_dec when HAS_BIAS); one invocation per (b, 4 columns)
//   merge_topk: per row, the best K of the feature shards' selections (a dictionary split into shards)
//   aux_mean:   ē_j = (1/B) Σ_b e_b,j with e = x' − x̂' (the main residual, gradient stopped)
//   aux_rows:   per row: ‖e_b − ē‖² and ‖ê_b − e_b‖²
//   aux_scale:  one workgroup: v_e = (1/B) Σ ‖e_b − ē‖² → stats[2]; dead count → stats[4];
//               stats[3] = α·2/(B·v_e) if any latent is dead (and v_e > 0), else 0
//   aux_grad:   Gaux = stats[3] · (ê − e)     (α g_aux: AuxK's gradient wrt ê, α folded in)
// Picks are stored in rows of `stride` slots starting at slot `offset`: the trainer keeps a row's TopK and
// AuxK picks side by side (stride K + KA), so slot b·stride + r is the sparse backward's entry id.

override MASKED: bool = false;
override HAS_BIAS: bool = false;
// Set where each row comes in whole vec4s (select: F % 4 == 0; decode: d % 4 == 0): rows are then read 4
// floats at a time through the vec4 views (…4) of the same buffers.
override QUADS: bool = false;
override ACCUMULATE: bool = false;
const NONE = 0xffffffffu;

// A dictionary split into feature shards (engine/shards.ts) selects per shard, its candidates' indices from
// `base` and their values raw (`raw`), and merge_topk keeps each row's best of all shards' candidates.
struct Select { B: u32, F: u32, K: u32, stride: u32, offset: u32, base: u32, raw: u32 }
// decode sums the picks of features f0 .. f0 + Fs − 1 (one shard's, rows of its W_dec), adding to the
// shards' before when ACCUMULATE
struct Decode { B: u32, d: u32, K: u32, stride: u32, offset: u32, f0: u32, Fs: u32 }
struct Aux { B: u32, d: u32, F: u32, alpha: f32 }

@group(0) @binding(0) var<uniform> su: Select;
@group(0) @binding(1) var<storage, read> pre: array<f32>;           // (B, F)
@group(0) @binding(2) var<storage, read> dead: array<u32>;          // (F), read when MASKED
@group(0) @binding(3) var<storage, read_write> idx: array<u32>;     // (B, stride)
@group(0) @binding(4) var<storage, read_write> val: array<f32>;     // (B, stride)
@group(0) @binding(24) var<storage, read> pre4: array<vec4f>;       // pre, 4 at a time (F % 4 == 0)
@group(0) @binding(25) var<storage, read> dead4: array<vec4u>;      // dead, 4 at a time (F % 4 == 0)
@group(0) @binding(27) var<storage, read> cand_idx: array<u32>;     // (B, F) merge_topk's candidates
@group(0) @binding(28) var<storage, read> cand_val: array<f32>;     // (B, F) their raw values

@group(0) @binding(5) var<uniform> du: Decode;
@group(0) @binding(6) var<storage, read> sidx: array<u32>;          // (B, stride)
@group(0) @binding(7) var<storage, read> sval: array<f32>;          // (B, stride)
@group(0) @binding(8) var<storage, read> W_dec: array<f32>;         // (F, d)
@group(0) @binding(26) var<storage, read> W_dec4: array<vec4f>;     // W_dec, 4 at a time (d % 4 == 0)
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

// Selection keeps the best K seen so far in a binary heap in private memory, worst at the root: most
// candidates are rejected by one comparison with the root, an accepted one costs log2 K moves (a sorted list
// cost K/2 on average, which made AuxK's K = d/2 the slowest kernel of a sparse step). The heap is sorted at
// the end, so the output is in rank order, best first.
//
// A software adapter runs the lanes of a SIMD group in step and emits every branch of an `if` whatever the
// lanes take, while a loop ends when no lane goes on. So the rejections have a loop of their own, which
// steps over whole units (4 candidates with one vec4 load where QUADS, else 1) as long as no candidate of
// the unit beats the root, and the heap's code runs only for the few units that hold one, instead of once
// per unit as it did in a single loop over the row (which profiled 3-4× slower).
const MAX_K = 512u;

// (v, i) ranks above (w, j): larger value first, then lower index.
fn above(v: f32, i: u32, w: f32, j: u32) -> bool { return v > w || (v == w && i < j); }

var<private> hv: array<f32, MAX_K>;
var<private> hi: array<u32, MAX_K>;

// Move the entry at p down the heap [0, n) until both children rank above it.
fn sift_down(p0: u32, n: u32) {
  var p = p0;
  let v = hv[p];
  let i = hi[p];
  loop {
    var c = 2u * p + 1u;
    if (c >= n) { break; }
    // the worse child (the one ranking lower) is the one that may move up
    if (c + 1u < n && above(hv[c], hi[c], hv[c + 1u], hi[c + 1u])) { c++; }
    if (!above(v, i, hv[c], hi[c])) { break; }
    hv[p] = hv[c];
    hi[p] = hi[c];
    p = c;
  }
  hv[p] = v;
  hi[p] = i;
}

// Put (v, i) into the heap [0, n] at position n, moving it up while its parent ranks below it.
fn sift_up(n: u32, v: f32, i: u32) {
  var p = n;
  while (p > 0u) {
    let r = (p - 1u) / 2u;
    if (!above(hv[r], hi[r], v, i)) { break; }
    hv[p] = hv[r];
    hi[p] = hi[r];
    p = r;
  }
  hv[p] = v;
  hi[p] = i;
}

// The candidates of unit q (4 where QUADS, else 1) that may enter the heap, as bits: all of them (dead
// ones, when MASKED) while it fills, then those above the root. Candidates come in index order, so a value
// equal to the root's never ranks above it: only a larger one.
fn unit_candidates(b: u32, q: u32, full: bool, root: f32) -> u32 {
  if (QUADS) {
    var ok = vec4<bool>(true);
    if (MASKED) { ok = dead4[q] != vec4u(0u); }
    if (full) { ok = ok & (pre4[b * su.F / 4u + q] > vec4f(root)); }
    return dot(select(vec4u(0u), vec4u(1u, 2u, 4u, 8u), ok), vec4u(1u));
  }
  return select(0u, 1u, (!MASKED || dead[q] != 0u) && (!full || pre[b * su.F + q] > root));
}

@compute @workgroup_size(64)
fn select_topk(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let b = gid.x + gid.y * nwg.x * 64u;
  if (b >= su.B) { return; }
  let K = min(su.K, MAX_K);
  let width = select(1u, 4u, QUADS);
  let units = su.F / width;
  var n = 0u;
  var root = 0.0; // hv[0] once the heap is full
  var q = 0u;
  // (`while`, not `loop`: webgpu-utils' reflection does not see the resources used inside a `loop`)
  while (q < units) {
    // the rejections: whole units, while the heap is full and nothing in them beats the root
    var m = unit_candidates(b, q, n == K, root);
    while (m == 0u && q + 1u < units) {
      q++;
      m = unit_candidates(b, q, n == K, root);
    }
    // the heap's code, once per candidate of the unit (the root may rise between them)
    while (m != 0u) {
      let i = q * width + firstTrailingBit(m);
      m &= m - 1u;
      let v = pre[b * su.F + i];
      if (n < K) {
        sift_up(n, v, i);
        n++;
      } else if (v > root) {
        hv[0] = v;
        hi[0] = i;
        sift_down(0u, K);
      }
      if (n == K) { root = hv[0]; }
    }
    q++;
  }
  write_heap(b, n);
}

// Heap sort (the worst goes last, so positions end in rank order), then row b's K slots: index (from
// su.base) and value (ReLU-ed unless su.raw), padded with NONE/0.
fn write_heap(b: u32, n: u32) {
  for (var m = n; m > 1u; m--) {
    let v = hv[0];
    let i = hi[0];
    hv[0] = hv[m - 1u];
    hi[0] = hi[m - 1u];
    hv[m - 1u] = v;
    hi[m - 1u] = i;
    sift_down(0u, m - 1u);
  }
  for (var r = 0u; r < su.K; r++) {
    let o = b * su.stride + su.offset + r;
    if (r < n) {
      idx[o] = hi[r] + su.base;
      val[o] = select(max(hv[r], 0.0), hv[r], su.raw != 0u);
    } else {
      idx[o] = NONE;
      val[o] = 0.0;
    }
  }
}

// The best K of each row's F candidates (cand_idx, cand_val: the shards' selections, NONE-padded) by the
// same order as select_topk, so the picks are those of one selection over the whole row. Candidates are not
// in index order here, so an entry must rank above the root, not merely equal its value.
@compute @workgroup_size(64)
fn merge_topk(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let b = gid.x + gid.y * nwg.x * 64u;
  if (b >= su.B) { return; }
  let K = min(su.K, MAX_K);
  var n = 0u;
  for (var c = 0u; c < su.F; c++) {
    let i = cand_idx[b * su.F + c];
    if (i == NONE) { continue; }
    let v = cand_val[b * su.F + c];
    if (n < K) {
      sift_up(n, v, i);
      n++;
    } else if (above(v, i, hv[0], hi[0])) {
      hv[0] = v;
      hi[0] = i;
      sift_down(0u, K);
    }
  }
  write_heap(b, n);
}

// W_dec[row + j .. row + j + 3], clamped to the row's `last` column.
fn decoder_run(row: u32, j: u32, last: u32) -> vec4f {
  return vec4f(W_dec[row + j], W_dec[row + min(j + 1u, last)], W_dec[row + min(j + 2u, last)], W_dec[row + last]);
}

// One invocation per row and run of 4 columns: the row's picks are read once per 4 outputs. 256 per
// workgroup: a software adapter pays per workgroup.
@compute @workgroup_size(256)
fn decode(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let runs = (du.d + 3u) / 4u;
  let t = gid.x + gid.y * nwg.x * 256u;
  if (t >= du.B * runs) { return; }
  let b = t / runs;
  let j = (t % runs) * 4u;
  let last = min(j + 3u, du.d - 1u); // the last run may be short; clamp its reads to the row
  var s = vec4f(0.0);
  let p = b * du.stride + du.offset;
  for (var r = 0u; r < du.K; r++) {
    let l = sidx[p + r] - du.f0; // the pick's row of this shard's W_dec (NONE and other shards' ≥ Fs)
    if (l < du.Fs) { s += sval[p + r] * decoder_run(l * du.d, j, last); }
  }
  for (var c = 0u; c < 4u && j + c < du.d; c++) {
    var x = s[c];
    if (ACCUMULATE) { x += Xhat[b * du.d + j + c]; }
    if (HAS_BIAS) { x += b_dec[j + c]; }
    Xhat[b * du.d + j + c] = x;
  }
}

// decode where QUADS, one invocation per row and run of 32 columns (8 vec4 accumulators, straight-line):
// the four lanes a software adapter runs together cover 128 consecutive columns, so each pick's W_dec row is
// read 512 contiguous bytes at a time rather than 64 (decode's runs of 4 were bound by those scattered
// reads). Same sums in the same order as decode.
@compute @workgroup_size(64)
fn decode_wide(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let quads = du.d / 4u;
  let runs = (quads + 7u) / 8u;
  let t = gid.x + gid.y * nwg.x * 64u;
  if (t >= du.B * runs) { return; }
  let b = t / runs;
  let q = (t % runs) * 8u;
  // the last run may be short: its reads past the row repeat the row's last quad and are never stored
  let last = quads - 1u;
  let o = vec4u(min(q, last), min(q + 1u, last), min(q + 2u, last), min(q + 3u, last));
  let o2 = vec4u(min(q + 4u, last), min(q + 5u, last), min(q + 6u, last), min(q + 7u, last));
  var s0 = vec4f(0.0); var s1 = vec4f(0.0); var s2 = vec4f(0.0); var s3 = vec4f(0.0);
  var s4 = vec4f(0.0); var s5 = vec4f(0.0); var s6 = vec4f(0.0); var s7 = vec4f(0.0);
  let p = b * du.stride + du.offset;
  for (var r = 0u; r < du.K; r++) {
    let l = sidx[p + r] - du.f0; // as in decode
    if (l >= du.Fs) { continue; }
    let v = sval[p + r];
    let w = l * quads;
    s0 += v * W_dec4[w + o.x]; s1 += v * W_dec4[w + o.y]; s2 += v * W_dec4[w + o.z]; s3 += v * W_dec4[w + o.w];
    s4 += v * W_dec4[w + o2.x]; s5 += v * W_dec4[w + o2.y]; s6 += v * W_dec4[w + o2.z]; s7 += v * W_dec4[w + o2.w];
  }
  put_quad(b, q, s0); put_quad(b, q + 1u, s1); put_quad(b, q + 2u, s2); put_quad(b, q + 3u, s3);
  put_quad(b, q + 4u, s4); put_quad(b, q + 5u, s5); put_quad(b, q + 6u, s6); put_quad(b, q + 7u, s7);
}

// X̂[b, 4q .. 4q + 3] = s (+ b_dec), for quads inside the row
fn put_quad(b: u32, q: u32, s: vec4f) {
  if (q >= du.d / 4u) { return; }
  var x = s;
  let o = b * du.d + 4u * q;
  if (ACCUMULATE) { x += vec4f(Xhat[o], Xhat[o + 1u], Xhat[o + 2u], Xhat[o + 3u]); }
  if (HAS_BIAS) { x += vec4f(b_dec[4u * q], b_dec[4u * q + 1u], b_dec[4u * q + 2u], b_dec[4u * q + 3u]); }
  Xhat[o] = x.x; Xhat[o + 1u] = x.y; Xhat[o + 2u] = x.z; Xhat[o + 3u] = x.w;
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
