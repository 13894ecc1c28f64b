// Nearest neighbours of decoder directions by cosine similarity (the dictionary map's k-NN graph).
//   inv_norms: per row of W_dec, 1/‖W_dec,i‖, or 0 for a zero row (its cosine with everything is then 0).
//   search:    per row i, the K most similar other rows: (cos, j) with larger cosine first, ties → lower j,
//              i itself excluded; rows with fewer than K others pad with NONE/0.
// The cosine is (W_dec,i · W_dec,j) · inv_i · inv_j rather than a dot of normalised copies: a normalised
// copy of W_dec would cost another F×d buffer (128 MiB at F = 32768, d = 1024) for no gain in accuracy.

const NONE = 0xffffffffu;

struct Params { F: u32, d: u32, K: u32, row0: u32 }

@group(0) @binding(0) var<uniform> nu: Params;
@group(0) @binding(1) var<storage, read> W_dec: array<f32>;          // (F, d)
@group(0) @binding(2) var<storage, read_write> inv_norm: array<f32>;  // (F)
@group(0) @binding(3) var<storage, read> inv_norm_in: array<f32>;     // (F)
@group(0) @binding(4) var<storage, read_write> nbr_idx: array<u32>;   // (F, K)
@group(0) @binding(5) var<storage, read_write> nbr_sim: array<f32>;   // (F, K)

@compute @workgroup_size(64)
fn inv_norms(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 64u;
  if (i >= nu.F) { return; }
  var s = 0.0;
  for (var k = 0u; k < nu.d; k++) {
    let x = W_dec[i * nu.d + k];
    s += x * x;
  }
  inv_norm[i] = select(0.0, 1.0 / sqrt(s), s > 0.0);
}

// Each invocation keeps its row's best K in private memory, as topk.wgsl's selection does; most candidates
// are rejected by one comparison with the current K-th best.
const MAX_K = 32u;
// A workgroup owns ROWS consecutive rows (one per invocation) and walks all rows j in tiles of TJ, staging
// TD columns of both sides at a time in workgroup memory, so each value read from W_dec serves many dot
// products. Every dot product still sums over columns 0..d-1 in order, whatever the tiling, so exact
// duplicate rows get bit-identical cosines and their ties resolve by index exactly as in the reference.
const ROWS = 64u;
const TJ = 64u;
const TD = 16u;
// One spare column so that invocations reading their own row at the same column hit different banks.
const AS = TD + 1u;
// The j side is staged column-major in vec4s of 4 neighbouring rows: one load feeds 4 multiply-adds.
const QJ = TJ / 4u;

var<workgroup> tile_i: array<f32, ROWS * AS>;
var<workgroup> tile_j: array<vec4f, TD * QJ>;

// (v, i) ranks above (w, j): larger cosine first, then lower index.
fn above(v: f32, i: u32, w: f32, j: u32) -> bool { return v > w || (v == w && i < j); }

// The invocation's row and its list so far (n entries, best first).
var<private> row: u32;
var<private> K: u32;
var<private> lv: array<f32, MAX_K>;
var<private> li: array<u32, MAX_K>;
var<private> n: u32;

fn offer(v: f32, j: u32) {
  if (j >= nu.F || j == row) { return; }
  if (n == K && !above(v, j, lv[K - 1u], li[K - 1u])) { return; }
  // Candidates come in ascending j, so an equal cosine never ranks above an earlier index: ties keep the lower.
  var p = min(n, K - 1u);
  while (p > 0u && above(v, j, lv[p - 1u], li[p - 1u])) {
    lv[p] = lv[p - 1u];
    li[p] = li[p - 1u];
    p--;
  }
  lv[p] = v;
  li[p] = j;
  n = min(n + 1u, K);
}

@compute @workgroup_size(64)
fn search(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) t: u32,
) {
  // The host splits F into row chunks (row0) so that no single dispatch runs long enough to trip a
  // driver watchdog; within a chunk, blocks of ROWS rows are laid out like flatGrid's invocations.
  let first = nu.row0 + (wid.x + wid.y * nwg.x) * ROWS;
  row = first + t;
  let live = row < nu.F;
  K = min(nu.K, MAX_K);
  n = 0u;
  let inv_i = select(0.0, inv_norm_in[min(row, nu.F - 1u)], live);

  // No early return: every invocation takes part in the barriers below, rows past F compute on zeros.
  for (var j0 = 0u; j0 < nu.F; j0 += TJ) {
    // Zeroed explicitly: on SwiftShader a bare declaration here kept the previous tile's sums.
    var acc = array<vec4f, QJ>();
    for (var k0 = 0u; k0 < nu.d; k0 += TD) {
      workgroupBarrier();
      for (var e = t; e < ROWS * TD; e += 64u) {
        let r = first + e / TD;
        let c = k0 + e % TD;
        tile_i[(e / TD) * AS + e % TD] = select(0.0, W_dec[min(r * nu.d + c, nu.F * nu.d - 1u)], r < nu.F && c < nu.d);
      }
      for (var e = t; e < TJ * TD; e += 64u) {
        let r = j0 + e / TD;
        let c = k0 + e % TD;
        tile_j[(e % TD) * QJ + (e / TD) / 4u][(e / TD) % 4u] = select(0.0, W_dec[min(r * nu.d + c, nu.F * nu.d - 1u)], r < nu.F && c < nu.d);
      }
      workgroupBarrier();
      // Columns past d were staged as zeros; adding 0·0 leaves every sum unchanged.
      for (var k = 0u; k < TD; k++) {
        let a = tile_i[t * AS + k];
        for (var q = 0u; q < QJ; q++) { acc[q] += a * tile_j[k * QJ + q]; }
      }
    }
    if (live) {
      // Components in order x, y, z, w: j ascends, as offer's tie rule needs.
      for (var q = 0u; q < QJ; q++) {
        let j = j0 + 4u * q;
        let c = acc[q] * inv_i;
        offer(c.x * inv_norm_in[min(j, nu.F - 1u)], j);
        offer(c.y * inv_norm_in[min(j + 1u, nu.F - 1u)], j + 1u);
        offer(c.z * inv_norm_in[min(j + 2u, nu.F - 1u)], j + 2u);
        offer(c.w * inv_norm_in[min(j + 3u, nu.F - 1u)], j + 3u);
      }
    }
  }
  if (!live) { return; }
  for (var r = 0u; r < nu.K; r++) {
    let o = row * nu.K + r;
    if (r < n) { nbr_idx[o] = li[r]; nbr_sim[o] = lv[r]; } else { nbr_idx[o] = NONE; nbr_sim[o] = 0.0; }
  }
}
