// Causal multi-head attention with grouped key/value heads and a key/value cache.
// Rows r = b·T + t of QKV (rows, W) hold, side by side, nH query heads, then nKv key heads, then nKv value
// heads, each of hd floats; the row is position p = pos0 + t of sequence b (pos0 positions are cached).
//   rope_store: rotates the row's query heads in place and its key head (when ROTARY; pairs (i, i + hd/2),
//               cos/sin of (p, i) from a table), then stores key and value at position p of the cache
//               Kc, Vc (B, nKv, ctx, hd). One invocation per (row, head of nH + nKv).
//   attend:     one invocation per (sequence b, query head h, row t): scores s_u = scale · q·k_u for u ≤ p
//               against key head h / (nH / nKv), and O[r, h·hd + i] = Σ_u softmax_u · v_u[i], in one pass
//               over the cache with a running maximum (the online softmax: the sum and the output so far
//               are rescaled by exp(m_old − m_new) when the maximum grows). No scratch and no barriers;
//               neighbouring invocations are neighbouring positions of one head, so they read the same keys
//               and values. Head size at most MAX_HD (src/model/memory.ts refuses larger).

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
@group(0) @binding(9) var<storage, read_write> O: array<f32>;    // (rows, nH·hd)

const MAX_HD = 256u;

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

@compute @workgroup_size(64)
fn attend(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 64u;
  if (i >= u.rows * u.nH) { return; }
  let t = i % u.T;
  let h = (i / u.T) % u.nH;
  let b = i / (u.T * u.nH);
  let r = b * u.T + t;
  let p = u.pos0 + t;
  let kvh = h / (u.nH / u.nKv);
  let q0 = r * width() + h * u.hd;
  let cache0 = (b * u.nKv + kvh) * u.ctx * u.hd;
  var q: array<f32, MAX_HD>;
  var acc: array<f32, MAX_HD>;
  for (var k = 0u; k < u.hd; k++) { q[k] = Q[q0 + k] * u.scale; acc[k] = 0.0; }
  var m = -3.0e38;
  var sum = 0.0;
  for (var s = 0u; s <= p; s++) {
    let kv = cache0 + s * u.hd;
    var dot = 0.0;
    for (var k = 0u; k < u.hd; k++) { dot = fma(q[k], Kr[kv + k], dot); }
    let mNew = max(m, dot);
    let keep = exp(m - mNew);   // 0 at the first key (m is −3e38), 1 while the maximum stands
    let e = exp(dot - mNew);
    sum = sum * keep + e;
    for (var k = 0u; k < u.hd; k++) { acc[k] = fma(acc[k], keep, e * Vr[kv + k]); }
    m = mNew;
  }
  let inv = 1.0 / sum;
  let o0 = r * u.nH * u.hd + h * u.hd;
  for (var k = 0u; k < u.hd; k++) { O[o0 + k] = acc[k] * inv; }
}
