// TopK backward, touching only the selected latents (RECIPE §2).
// An "entry" is one kept latent of one row: e = b·S + r with S = K + KA slots per row, the slot of its pick in
// `picks`/`pvals`; r < K are the main TopK picks (gradient vector G = ∂L/∂x̂'), r ≥ K the AuxK picks
// (gradient vector Gaux = α ∂L_aux/∂ê). G and Gaux share one buffer, Gaux from float `aux_g` on. Where NESTED
// (Matryoshka), G holds one block per group of features and a main entry reads its feature's block.
// Only entries with a positive value carry gradient. To sum per feature in a fixed order without float
// atomics, entries are grouped by feature (integer counts → prefix scan → scatter → sort each small group
// by entry id); every per-feature sum then runs over its group in ascending entry order.
//   h:        h_e = gvec_b · W_dec[feature]                      (∂L/∂pre of the entry)
//   count, scan, scatter, sort_lists: build offsets (F + 1) and lists (entries grouped by feature)
//   dwdec:    gW_dec[i, j] = Σ_{e ∈ i} value_e · gvec_b(e)[j]     (dwdec_wide where QUADS)
//   dwenc:    gW_enc[j, i] = Σ_{e ∈ i} h_e · Xc[b(e), j]          (dwenc_wide where QUADS)
//   dbenc:    gb_enc[i]    = Σ_{e ∈ i} h_e
//   dbdec:    gb_dec[j]    = Σ_b G[b, j] − Σ_i W_enc[j, i] · gb_enc[i]   (b_dec is also subtracted at the input)
// QUADS (set where d % 4 == 0): rows are read 4 floats at a time through the vec4 views (…4) of the same
// buffers, one load (and one bounds clamp) instead of four. A pipeline constant, not a uniform: with the
// same test made at run time inside the loops, a profile had topk.decode and dwenc about 1.4× slower.
// Where QUADS, the per-feature sums run as separate entry points (…_wide) with constant loops: indexing
// accumulators by a loop variable or an overridable count makes SwiftShader keep them in memory.

override QUADS: bool = false;
override F_QUADS: bool = false; // the same for rows of F floats (dbdec), where F % 4 == 0
// dbdec subtracts one later feature shard's Σ_i W_enc[j, i] · gb_enc[i] from what the shards before wrote
override ACCUMULATE: bool = false;
// Matryoshka: a main entry's gradient vector is its feature's group's block of G (gblock), not G itself
override NESTED: bool = false;
const NONE = 0xffffffffu;

// F features from f0 on: the whole dictionary, or for h, the per-feature sums and dbdec one feature shard
// of it (engine/shards.ts), whose W_dec, gradients and offsets are bound from its first feature
struct Sparse { B: u32, d: u32, F: u32, K: u32, KA: u32, aux_g: u32, f0: u32 }

@group(0) @binding(0) var<uniform> u: Sparse;
@group(0) @binding(1) var<storage, read> picks: array<u32>;               // (B, S) features, NONE = no pick
@group(0) @binding(2) var<storage, read> pvals: array<f32>;               // (B, S) values
@group(0) @binding(3) var<storage, read> gvec: array<f32>;                // G (B, d), then Gaux (B, d) at aux_g
@group(0) @binding(4) var<storage, read> gvec4: array<vec4f>;
@group(0) @binding(5) var<storage, read> W_dec: array<f32>;               // (F, d)
@group(0) @binding(6) var<storage, read> W_dec4: array<vec4f>;
@group(0) @binding(7) var<storage, read_write> h: array<f32>;             // (B·S)
@group(0) @binding(8) var<storage, read_write> counts: array<atomic<u32>>; // (F)
@group(0) @binding(9) var<storage, read> counts_in: array<u32>;           // (F)
@group(0) @binding(10) var<storage, read_write> offsets: array<u32>;      // (F + 1)
@group(0) @binding(11) var<storage, read> offsets_in: array<u32>;         // (F + 1)
@group(0) @binding(12) var<storage, read_write> cursor: array<atomic<u32>>; // (F)
@group(0) @binding(13) var<storage, read_write> lists: array<u32>;        // (B·S)
@group(0) @binding(14) var<storage, read> lists_in: array<u32>;           // (B·S)
@group(0) @binding(15) var<storage, read> h_in: array<f32>;               // (B·S)
@group(0) @binding(16) var<storage, read> Xc: array<f32>;                 // (B, d) encoder input
@group(0) @binding(17) var<storage, read> Xc4: array<vec4f>;
@group(0) @binding(18) var<storage, read> W_enc: array<f32>;              // (d, F)
@group(0) @binding(20) var<storage, read_write> gW_dec: array<f32>;       // (F, d)
@group(0) @binding(21) var<storage, read_write> gW_enc: array<f32>;       // (d, F)
@group(0) @binding(22) var<storage, read_write> gb_enc: array<f32>;       // (F)
@group(0) @binding(23) var<storage, read_write> gb_dec: array<f32>;       // (d)
// ∂b_enc again, outside the gradient buffer, so dbdec can read it while writing the gradient buffer
@group(0) @binding(24) var<storage, read_write> benc: array<f32>;         // (F)
@group(0) @binding(25) var<storage, read> benc_in: array<f32>;            // (F)
@group(0) @binding(26) var<storage, read> W_enc4: array<vec4f>;
@group(0) @binding(27) var<storage, read> benc4: array<vec4f>;
@group(0) @binding(28) var<storage, read> gblock: array<u32>;             // (F) where each feature's G block starts

fn slots() -> u32 { return u.K + u.KA; }

fn carries(e: u32) -> bool { return picks[e] != NONE && pvals[e] > 0.0; }

// Whether entry e carries gradient through a feature of this shard, and which row of the shard's W_dec.
fn owned(e: u32) -> bool { return carries(e) && picks[e] - u.f0 < u.F; }
fn shard_row(e: u32) -> u32 { return picks[e] - u.f0; }

// An entry's h is written by the shard that owns it, or as 0 by the first shard when it carries nothing.
fn writes_h(e: u32) -> bool { return owned(e) || (u.f0 == 0u && !carries(e)); }

// Where entry e's gradient vector (G or Gaux, row b) starts in gvec.
fn gvec_row(e: u32) -> u32 {
  let b = e / slots();
  if (e - b * slots() >= u.K) { return u.aux_g + b * u.d; }
  if (NESTED) { return gblock[picks[e]] + b * u.d; }
  return b * u.d;
}

// gvec / Xc at o .. o + 3; reads past the end are clamped (WGSL), never written.
fn gvec_at(o: u32) -> vec4f { return vec4f(gvec[o], gvec[o + 1u], gvec[o + 2u], gvec[o + 3u]); }

fn xc_at(o: u32) -> vec4f { return vec4f(Xc[o], Xc[o + 1u], Xc[o + 2u], Xc[o + 3u]); }

fn flat(gid: vec3u, nwg: vec3u) -> u32 { return gid.x + gid.y * nwg.x * 64u; }

// The sum of four interleaved partial sums, in one fixed order.
fn total(v: vec4f) -> f32 { return (v.x + v.y) + (v.z + v.w); }

// One invocation per entry: neighbouring invocations are one row's entries, so they read the same G row.
@compute @workgroup_size(256)
fn h_entries(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let e = gid.x + gid.y * nwg.x * 256u;
  if (e >= u.B * slots()) { return; }
  if (!writes_h(e)) { return; }
  var s = 0.0;
  if (owned(e)) {
    let w = shard_row(e) * u.d;
    let g = gvec_row(e);
    if (QUADS) {
      var acc = vec4f(0.0); // four interleaved partial sums, added at the end
      for (var j = 0u; j < u.d; j += 4u) { acc = fma(gvec4[(g + j) / 4u], W_dec4[(w + j) / 4u], acc); }
      s = total(acc);
    } else {
      for (var j = 0u; j < u.d; j++) { s += gvec[g + j] * W_dec[w + j]; }
    }
  }
  h[e] = s;
}

// h for four neighbouring entries of one row per invocation, where QUADS and K % 4 == KA % 4 == 0 (so the
// four share one row and one gradient vector): each gvec load serves four dot products. Same sums in the
// same order as h_entries.
@compute @workgroup_size(256)
fn h_quads(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let e0 = 4u * (gid.x + gid.y * nwg.x * 256u);
  if (e0 >= u.B * slots()) { return; }
  let live = vec4<bool>(owned(e0), owned(e0 + 1u), owned(e0 + 2u), owned(e0 + 3u));
  // an entry this shard does not own reads row 0, and gets h = 0 if it carries nothing
  let w = select(vec4u(0u), vec4u(shard_row(e0), shard_row(e0 + 1u), shard_row(e0 + 2u), shard_row(e0 + 3u)), live) * u.d / 4u;
  let g = gvec_row(e0) / 4u;
  var a0 = vec4f(0.0);
  var a1 = vec4f(0.0);
  var a2 = vec4f(0.0);
  var a3 = vec4f(0.0);
  for (var j = 0u; j < u.d / 4u; j++) {
    let gv = gvec4[g + j];
    a0 = fma(gv, W_dec4[w.x + j], a0);
    a1 = fma(gv, W_dec4[w.y + j], a1);
    a2 = fma(gv, W_dec4[w.z + j], a2);
    a3 = fma(gv, W_dec4[w.w + j], a3);
  }
  let sums = vec4f(total(a0), total(a1), total(a2), total(a3));
  let out = select(vec4f(0.0), sums, live);
  if (writes_h(e0)) { h[e0] = out.x; }
  if (writes_h(e0 + 1u)) { h[e0 + 1u] = out.y; }
  if (writes_h(e0 + 2u)) { h[e0 + 2u] = out.z; }
  if (writes_h(e0 + 3u)) { h[e0 + 3u] = out.w; }
}

@compute @workgroup_size(64)
fn count(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let e = flat(gid, nwg);
  if (e >= u.B * slots() || !carries(e)) { return; }
  atomicAdd(&counts[picks[e]], 1u);
}

var<workgroup> part: array<u32, 256>;

@compute @workgroup_size(256)
fn scan(@builtin(local_invocation_index) lane: u32) {
  let chunk = (u.F + 255u) / 256u;
  let start = min(lane * chunk, u.F);
  let end = min(start + chunk, u.F);
  var s = 0u;
  for (var i = start; i < end; i++) { s += counts_in[i]; }
  part[lane] = s;
  // Hillis–Steele inclusive scan over the 256 chunk totals.
  for (var stride = 1u; stride < 256u; stride *= 2u) {
    workgroupBarrier();
    var add = 0u;
    if (lane >= stride) { add = part[lane - stride]; }
    workgroupBarrier();
    part[lane] += add;
  }
  workgroupBarrier();
  var run = part[lane] - s;
  for (var i = start; i < end; i++) { offsets[i] = run; run += counts_in[i]; }
  if (lane == 255u) { offsets[u.F] = part[255]; }
}

@compute @workgroup_size(64)
fn scatter(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let e = flat(gid, nwg);
  if (e >= u.B * slots() || !carries(e)) { return; }
  let i = picks[e];
  lists[offsets_in[i] + atomicAdd(&cursor[i], 1u)] = e;
}

@compute @workgroup_size(64)
fn sort_lists(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat(gid, nwg);
  if (i >= u.F) { return; }
  let start = offsets_in[i];
  let end = offsets_in[i + 1u];
  for (var p = start + 1u; p < end; p++) {  // insertion sort: groups hold about B·S/F entries
    let e = lists[p];
    var q = p;
    while (q > start && lists[q - 1u] > e) { lists[q] = lists[q - 1u]; q--; }
    lists[q] = e;
  }
}

// The per-feature sums below give each invocation one feature and a run of 8 consecutive columns (32 in
// the _wide kernels), so the feature's entry group is walked once per 8 (32) outputs (each output still
// sums its entries in order); 256 invocations per workgroup, as a software adapter pays per workgroup and
// there are F·d/8 invocations.
// Reads of the last run may pass the end of a row (WGSL clamps out-of-bounds reads); only columns < d are
// written.
fn column_runs() -> u32 { return (u.d + 7u) / 8u; }

@compute @workgroup_size(256)
fn dwdec(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let t = gid.x + gid.y * nwg.x * 256u;
  if (t >= u.F * column_runs()) { return; }
  let i = t / column_runs();
  let j0 = (t % column_runs()) * 8u;
  var lo = vec4f(0.0);
  var hi = vec4f(0.0);
  for (var p = offsets_in[i]; p < offsets_in[i + 1u]; p++) {
    let e = lists_in[p];
    let w = pvals[e];
    let o = gvec_row(e) + j0;
    lo += w * gvec_at(o);
    hi += w * gvec_at(o + 4u);
  }
  // straight-line stores for a whole run: indexing lo/hi by a loop variable made SwiftShader spill them
  let o = i * u.d + j0;
  if (j0 + 8u <= u.d) {
    gW_dec[o] = lo.x; gW_dec[o + 1u] = lo.y; gW_dec[o + 2u] = lo.z; gW_dec[o + 3u] = lo.w;
    gW_dec[o + 4u] = hi.x; gW_dec[o + 5u] = hi.y; gW_dec[o + 6u] = hi.z; gW_dec[o + 7u] = hi.w;
  } else {
    for (var c = 0u; c < u.d - j0; c++) { gW_dec[o + c] = select(hi[c - 4u], lo[c], c < 4u); }
  }
}

@compute @workgroup_size(256)
fn dwenc(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let t = gid.x + gid.y * nwg.x * 256u;
  if (t >= u.F * column_runs()) { return; }
  let i = t / column_runs();
  let j0 = (t % column_runs()) * 8u;
  var lo = vec4f(0.0);
  var hi = vec4f(0.0);
  for (var p = offsets_in[i]; p < offsets_in[i + 1u]; p++) {
    let e = lists_in[p];
    let hv = h_in[e];
    let o = (e / slots()) * u.d + j0;
    lo += hv * xc_at(o);
    hi += hv * xc_at(o + 4u);
  }
  let o = j0 * u.F + i;
  if (j0 + 8u <= u.d) {
    gW_enc[o] = lo.x; gW_enc[o + u.F] = lo.y; gW_enc[o + 2u * u.F] = lo.z; gW_enc[o + 3u * u.F] = lo.w;
    gW_enc[o + 4u * u.F] = hi.x; gW_enc[o + 5u * u.F] = hi.y; gW_enc[o + 6u * u.F] = hi.z; gW_enc[o + 7u * u.F] = hi.w;
  } else {
    for (var c = 0u; c < u.d - j0; c++) { gW_enc[o + c * u.F] = select(hi[c - 4u], lo[c], c < 4u); }
  }
}

// Quads q + a .. q + a + 3 of a run of 8 in rows of `quads` quads: the last run may be short, and its reads
// past the row repeat the row's last quad (never stored).
fn run_quads(q: u32, quads: u32, a: u32) -> vec4u { return min(vec4u(q + a) + vec4u(0u, 1u, 2u, 3u), vec4u(quads - 1u)); }

// dwdec where QUADS with 32 columns per invocation (8 vec4 accumulators): a lane reads 128 contiguous
// bytes of each entry's gradient row, and the four lanes a software adapter runs together 512 (with runs
// of 8, 128: those scattered reads bound the kernel).
@compute @workgroup_size(64)
fn dwdec_wide(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let quads = u.d / 4u;
  let runs = (quads + 7u) / 8u;
  let t = gid.x + gid.y * nwg.x * 64u;
  if (t >= u.F * runs) { return; }
  let i = t / runs;
  let q = (t % runs) * 8u;
  let o = run_quads(q, quads, 0u);
  let o2 = run_quads(q, quads, 4u);
  var s0 = vec4f(0.0); var s1 = vec4f(0.0); var s2 = vec4f(0.0); var s3 = vec4f(0.0);
  var s4 = vec4f(0.0); var s5 = vec4f(0.0); var s6 = vec4f(0.0); var s7 = vec4f(0.0);
  for (var p = offsets_in[i]; p < offsets_in[i + 1u]; p++) {
    let e = lists_in[p];
    let w = pvals[e];
    let g = gvec_row(e) / 4u;
    s0 += w * gvec4[g + o.x]; s1 += w * gvec4[g + o.y]; s2 += w * gvec4[g + o.z]; s3 += w * gvec4[g + o.w];
    s4 += w * gvec4[g + o2.x]; s5 += w * gvec4[g + o2.y]; s6 += w * gvec4[g + o2.z]; s7 += w * gvec4[g + o2.w];
  }
  put_dec(i, q, s0); put_dec(i, q + 1u, s1); put_dec(i, q + 2u, s2); put_dec(i, q + 3u, s3);
  put_dec(i, q + 4u, s4); put_dec(i, q + 5u, s5); put_dec(i, q + 6u, s6); put_dec(i, q + 7u, s7);
}

fn put_dec(i: u32, q: u32, s: vec4f) {
  if (q >= u.d / 4u) { return; }
  let o = i * u.d + 4u * q;
  gW_dec[o] = s.x; gW_dec[o + 1u] = s.y; gW_dec[o + 2u] = s.z; gW_dec[o + 3u] = s.w;
}

// dwenc where QUADS with 32 columns per invocation, as dwdec_wide. The four lanes run together share a
// feature; the next four take the next feature and the same columns, so the strided stores (gW_enc is
// (d, F)) of neighbouring lane groups land side by side in the same rows.
@compute @workgroup_size(64)
fn dwenc_wide(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let quads = u.d / 4u;
  let runs = (quads + 7u) / 8u;
  let t = gid.x + gid.y * nwg.x * 64u;
  let blocks = (runs + 3u) / 4u;
  if (t >= u.F * blocks * 4u) { return; }
  let i = (t / 4u) % u.F;
  let run = (t / 4u / u.F) * 4u + t % 4u;
  if (run >= runs) { return; }
  let q = run * 8u;
  let o = run_quads(q, quads, 0u);
  let o2 = run_quads(q, quads, 4u);
  var s0 = vec4f(0.0); var s1 = vec4f(0.0); var s2 = vec4f(0.0); var s3 = vec4f(0.0);
  var s4 = vec4f(0.0); var s5 = vec4f(0.0); var s6 = vec4f(0.0); var s7 = vec4f(0.0);
  for (var p = offsets_in[i]; p < offsets_in[i + 1u]; p++) {
    let e = lists_in[p];
    let hv = h_in[e];
    let x = (e / slots()) * quads;
    s0 += hv * Xc4[x + o.x]; s1 += hv * Xc4[x + o.y]; s2 += hv * Xc4[x + o.z]; s3 += hv * Xc4[x + o.w];
    s4 += hv * Xc4[x + o2.x]; s5 += hv * Xc4[x + o2.y]; s6 += hv * Xc4[x + o2.z]; s7 += hv * Xc4[x + o2.w];
  }
  put_enc(i, q, s0); put_enc(i, q + 1u, s1); put_enc(i, q + 2u, s2); put_enc(i, q + 3u, s3);
  put_enc(i, q + 4u, s4); put_enc(i, q + 5u, s5); put_enc(i, q + 6u, s6); put_enc(i, q + 7u, s7);
}

fn put_enc(i: u32, q: u32, s: vec4f) {
  if (q >= u.d / 4u) { return; }
  let o = 4u * q * u.F + i;
  gW_enc[o] = s.x; gW_enc[o + u.F] = s.y; gW_enc[o + 2u * u.F] = s.z; gW_enc[o + 3u * u.F] = s.w;
}

@compute @workgroup_size(64)
fn dbenc(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat(gid, nwg);
  if (i >= u.F) { return; }
  var s = 0.0;
  for (var p = offsets_in[i]; p < offsets_in[i + 1u]; p++) { s += h_in[lists_in[p]]; }
  gb_enc[i] = s;
  benc[i] = s;
}

@compute @workgroup_size(64)
fn dbdec(@builtin(global_invocation_id) gid: vec3u) {
  let j = gid.x;
  if (j >= u.d) { return; }
  var s = 0.0;
  if (ACCUMULATE) { s = gb_dec[j]; } else { for (var b = 0u; b < u.B; b++) { s += gvec[b * u.d + j]; } }
  var t = 0.0;
  if (F_QUADS) {
    var acc = vec4f(0.0); // four interleaved partial sums, added at the end
    for (var i = 0u; i < u.F / 4u; i++) { acc = fma(W_enc4[j * (u.F / 4u) + i], benc4[i], acc); }
    t = total(acc);
  } else {
    for (var i = 0u; i < u.F; i++) { t += W_enc[j * u.F + i] * benc_in[i]; }
  }
  gb_dec[j] = s - t;
}
