// Causal multi-head attention with grouped key/value heads and a key/value cache.
// Rows r = b·T + t of QKV (rows, W) hold, side by side, nH query heads, then nKv key heads, then nKv value
// heads, each of hd floats; the row is position p = pos0 + t of sequence b (pos0 positions are cached).
//   rope_store: rotates the row's query heads in place and its key head (when ROTARY; pairs (i, i + hd/2),
//               cos/sin of (p, i) from a table), then stores key and value at position p of the cache
//               Kc, Vc (B, nKv, ctx, hd). One invocation per (row, head of nH + nKv).
//   attend:     one workgroup per (row, query head h): scores s_u = scale · q·k_u for u ≤ p against key
//               head h / (nH / nKv), softmax, and O[r, h·hd + i] = Σ_u softmax_u · v_u[i]. Scores live in
//               S (rows, nH, ctx); 64 lanes share each row's maximum and sum.

override ROTARY: bool = false;

struct Attn { rows: u32, T: u32, pos0: u32, nH: u32, nKv: u32, hd: u32, ctx: u32, scale: f32 }

@group(0) @binding(0) var<uniform> u: Attn;
@group(0) @binding(1) var<storage, read_write> QKV: array<f32>;  // (rows, (nH + 2·nKv)·hd)
@group(0) @binding(2) var<storage, read> cosT: array<f32>;       // (ctx, hd/2), read when ROTARY
@group(0) @binding(3) var<storage, read> sinT: array<f32>;
@group(0) @binding(4) var<storage, read_write> Kc: array<f32>;   // (B, nKv, ctx, hd)
@group(0) @binding(5) var<storage, read_write> Vc: array<f32>;
@group(0) @binding(6) var<storage, read> Q: array<f32>;          // QKV again, read-only for attend
@group(0) @binding(7) var<storage, read> Kr: array<f32>;
@group(0) @binding(8) var<storage, read> Vr: array<f32>;
@group(0) @binding(9) var<storage, read_write> S: array<f32>;    // (rows, nH, ctx) scratch
@group(0) @binding(10) var<storage, read_write> O: array<f32>;   // (rows, nH·hd)

fn width() -> u32 { return (u.nH + 2u * u.nKv) * u.hd; }

@compute @workgroup_size(64)
fn rope_store(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 64u;
  let heads = u.nH + u.nKv;
  if (i >= u.rows * heads) { return; }
  let r = i / heads;
  let h = i % heads;
  let b = r / u.T;
  let p = u.pos0 + r % u.T;
  let hh = u.hd / 2u;
  let base = r * width() + h * u.hd;   // query head h, or key head h − nH
  if (ROTARY) {
    for (var k = 0u; k < hh; k++) {
      let c = cosT[p * hh + k];
      let s = sinT[p * hh + k];
      let x0 = QKV[base + k];
      let x1 = QKV[base + k + hh];
      QKV[base + k] = x0 * c - x1 * s;
      QKV[base + k + hh] = x1 * c + x0 * s;
    }
  }
  if (h < u.nH) { return; }
  let kvh = h - u.nH;
  let slot = ((b * u.nKv + kvh) * u.ctx + p) * u.hd;
  let vbase = base + u.nKv * u.hd;
  for (var k = 0u; k < u.hd; k++) {
    Kc[slot + k] = QKV[base + k];
    Vc[slot + k] = QKV[vbase + k];
  }
}

var<workgroup> part: array<f32, 64>;

fn reduceMax(v: f32, lane: u32) -> f32 {
  part[lane] = v;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s >>= 1u) {
    if (lane < s) { part[lane] = max(part[lane], part[lane + s]); }
    workgroupBarrier();
  }
  let m = part[0];
  workgroupBarrier();
  return m;
}

fn reduceSum(v: f32, lane: u32) -> f32 {
  part[lane] = v;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s >>= 1u) {
    if (lane < s) { part[lane] += part[lane + s]; }
    workgroupBarrier();
  }
  let m = part[0];
  workgroupBarrier();
  return m;
}

@compute @workgroup_size(64)
fn attend(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lane: u32) {
  let g = wg.x + wg.y * nwg.x;
  if (g >= u.rows * u.nH) { return; }   // uniform across the workgroup
  let r = g / u.nH;
  let h = g % u.nH;
  let b = r / u.T;
  let p = u.pos0 + r % u.T;
  let kvh = h / (u.nH / u.nKv);
  let q0 = r * width() + h * u.hd;
  let cache0 = (b * u.nKv + kvh) * u.ctx * u.hd;
  let s0 = g * u.ctx;
  var m = -3.0e38;
  for (var t = lane; t <= p; t += 64u) {
    var dot = 0.0;
    for (var k = 0u; k < u.hd; k++) { dot = fma(Q[q0 + k], Kr[cache0 + t * u.hd + k], dot); }
    let s = dot * u.scale;
    S[s0 + t] = s;
    m = max(m, s);
  }
  m = reduceMax(m, lane);
  var sum = 0.0;
  for (var t = lane; t <= p; t += 64u) {
    let e = exp(S[s0 + t] - m);
    S[s0 + t] = e;
    sum += e;
  }
  sum = reduceSum(sum, lane);
  storageBarrier();
  let inv = 1.0 / sum;
  for (var k = lane; k < u.hd; k += 64u) {
    var acc = 0.0;
    for (var t = 0u; t <= p; t++) { acc = fma(S[s0 + t], Vr[cache0 + t * u.hd + k], acc); }
    O[r * u.nH * u.hd + h * u.hd + k] = acc * inv;
  }
}
