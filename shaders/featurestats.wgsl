// Per-feature statistics of SAE activations over a dataset, accumulated batch after batch (the feature
// explorer). Every statistic has one invocation per feature walking its batch's rows in ascending order,
// with the running state kept in storage between batches, so the result is the same whatever the batch or
// chunk boundaries were, and no atomics are needed at all.
//   densify: TopK's kept (index, value) lists (B, K) → dense activations (B, F), on a zeroed buffer
//   init:    every state slot of every feature to its empty value
//   pass1:   rows with f > 0; their sum (f32, Kahan-compensated); the max and the first row reaching it;
//            the top-N rows (larger value first, ties → lower row)
//   pass2:   needs pass 1's max, as edges the host computes: the histogram of f > 0 over (0, max] and, per
//            interval of (0, max], the S rows with the lowest hash(key, row) (ties impossible: the hash is
//            a bijection of the row)
// Bins and intervals: value a falls in bin j when exactly j of the interior edges lie below it
// (edge < a), i.e. bin j = (e_j, e_{j+1}] with e_0 = 0 and e_last = max. The host rounds the edges to f32
// once and hands the same numbers to the reference, so a bin is decided by one exact comparison and never
// by a division that might round differently here and there.

const NONE = 0xffffffffu;

struct Params { B: u32, F: u32, K: u32, row0: u32, N: u32, bins: u32, Q: u32, S: u32, key: u32 }

@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read> acts: array<f32>;          // (B, F) dense activations
@group(0) @binding(2) var<storage, read> sidx: array<u32>;          // (B, K) TopK indices, NONE = padding
@group(0) @binding(3) var<storage, read> sval: array<f32>;          // (B, K) TopK values
@group(0) @binding(4) var<storage, read_write> dense: array<f32>;   // (B, F)
@group(0) @binding(5) var<storage, read_write> istate: array<u32>;  // (F, 2) rows with f > 0, row of the max
@group(0) @binding(6) var<storage, read_write> fstate: array<f32>;  // (F, 3) sum, Kahan compensation, max
@group(0) @binding(7) var<storage, read_write> top_val: array<f32>; // (F, N) best first; padding 0
@group(0) @binding(8) var<storage, read_write> top_row: array<u32>; // (F, N) padding NONE
@group(0) @binding(9) var<storage, read> hedge: array<f32>;         // (F, bins − 1) interior histogram edges
@group(0) @binding(10) var<storage, read> qedge: array<f32>;        // (F, Q − 1) interior interval edges
@group(0) @binding(11) var<storage, read_write> hist: array<u32>;   // (F, bins)
@group(0) @binding(12) var<storage, read_write> smp_row: array<u32>; // (F, Q, S) lowest hash first; padding NONE
@group(0) @binding(13) var<storage, read_write> smp_val: array<f32>; // (F, Q, S) padding 0

fn flat(gid: vec3u, nwg: vec3u) -> u32 { return gid.x + gid.y * nwg.x * 64u; }

// MurmurHash3's finaliser (src/data/hash.ts fmix32): a bijection of u32, so distinct rows never tie.
fn fmix32(x: u32) -> u32 {
  var h = x;
  h ^= h >> 16u;
  h *= 0x85ebca6bu;
  h ^= h >> 13u;
  h *= 0xc2b2ae35u;
  h ^= h >> 16u;
  return h;
}

fn row_hash(r: u32) -> u32 { return fmix32(u.key ^ r); }

@compute @workgroup_size(64)
fn densify(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let t = flat(gid, nwg);
  if (t >= u.B * u.K) { return; }
  let i = sidx[t];
  // A row's kept indices are distinct, so no two invocations write the same slot.
  if (i != NONE) { dense[(t / u.K) * u.F + i] = sval[t]; }
}

@compute @workgroup_size(64)
fn init(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat(gid, nwg);
  if (i >= u.F) { return; }
  istate[2u * i] = 0u;
  istate[2u * i + 1u] = NONE;
  fstate[3u * i] = 0.0;
  fstate[3u * i + 1u] = 0.0;
  fstate[3u * i + 2u] = 0.0;
  for (var p = 0u; p < u.N; p++) { top_val[i * u.N + p] = 0.0; top_row[i * u.N + p] = NONE; }
  for (var j = 0u; j < u.bins; j++) { hist[i * u.bins + j] = 0u; }
  for (var p = 0u; p < u.Q * u.S; p++) { smp_row[i * u.Q * u.S + p] = NONE; smp_val[i * u.Q * u.S + p] = 0.0; }
}

// (v, r) ranks above (w, s): larger value first, then lower row. Padding (0, NONE) ranks below any f > 0.
fn above(v: f32, r: u32, w: f32, s: u32) -> bool { return v > w || (v == w && r < s); }

@compute @workgroup_size(64)
fn pass1(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat(gid, nwg);
  if (i >= u.F) { return; }
  var count = istate[2u * i];
  var arg = istate[2u * i + 1u];
  var s = fstate[3u * i];
  var c = fstate[3u * i + 1u];
  var m = fstate[3u * i + 2u];
  let N = u.N;
  let base = i * N;
  // The list's last entry, cached: most rows are rejected by this one comparison.
  var tv = 0.0;
  var tr = NONE;
  if (N > 0u) { tv = top_val[base + N - 1u]; tr = top_row[base + N - 1u]; }
  for (var b = 0u; b < u.B; b++) {
    let a = acts[b * u.F + i];
    if (!(a > 0.0)) { continue; }
    let r = u.row0 + b;
    count += 1u;
    // Kahan: c carries what the last addition lost. A plain f32 sum over millions of rows loses digits
    // (its error grows with the row count); the compensated one stays within a few f32 ulps of the sum.
    let y = a - c;
    let t = s + y;
    c = (t - s) - y;
    s = t;
    // Strictly greater: rows ascend, so an equal value keeps the earlier row.
    if (a > m) { m = a; arg = r; }
    if (N > 0u && above(a, r, tv, tr)) {
      var p = N - 1u;
      while (p > 0u && above(a, r, top_val[base + p - 1u], top_row[base + p - 1u])) {
        top_val[base + p] = top_val[base + p - 1u];
        top_row[base + p] = top_row[base + p - 1u];
        p--;
      }
      top_val[base + p] = a;
      top_row[base + p] = r;
      tv = top_val[base + N - 1u];
      tr = top_row[base + N - 1u];
    }
  }
  istate[2u * i] = count;
  istate[2u * i + 1u] = arg;
  fstate[3u * i] = s;
  fstate[3u * i + 1u] = c;
  fstate[3u * i + 2u] = m;
}

// Number of the n non-decreasing edges from `base` that lie strictly below a (binary search).
fn rank_hist(base: u32, n: u32, a: f32) -> u32 {
  var lo = 0u;
  var hi = n;
  while (lo < hi) {
    let mid = (lo + hi) / 2u;
    if (hedge[base + mid] < a) { lo = mid + 1u; } else { hi = mid; }
  }
  return lo;
}

fn rank_interval(base: u32, n: u32, a: f32) -> u32 {
  var lo = 0u;
  var hi = n;
  while (lo < hi) {
    let mid = (lo + hi) / 2u;
    if (qedge[base + mid] < a) { lo = mid + 1u; } else { hi = mid; }
  }
  return lo;
}

@compute @workgroup_size(64)
fn pass2(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat(gid, nwg);
  if (i >= u.F) { return; }
  let nb = u.bins - 1u;
  let nq = u.Q - 1u;
  let S = u.S;
  for (var b = 0u; b < u.B; b++) {
    let a = acts[b * u.F + i];
    if (!(a > 0.0)) { continue; }
    let r = u.row0 + b;
    // Rank ≤ bins − 1 even for a value above the max (if pass 2 ever saw one): the last bin takes it.
    let j = rank_hist(i * nb, nb, a);
    hist[i * u.bins + j] += 1u;
    if (S == 0u) { continue; }
    let base = (i * u.Q + rank_interval(i * nq, nq, a)) * S;
    let h = row_hash(r);
    let worst = smp_row[base + S - 1u];
    if (worst != NONE && h >= row_hash(worst)) { continue; }
    var p = S - 1u;
    while (p > 0u) {
      let prev = smp_row[base + p - 1u];
      if (prev != NONE && row_hash(prev) < h) { break; }
      smp_row[base + p] = prev;
      smp_val[base + p] = smp_val[base + p - 1u];
      p--;
    }
    smp_row[base + p] = r;
    smp_val[base + p] = a;
  }
}
