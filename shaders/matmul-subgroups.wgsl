// The subgroup GEMM variant, appended to matmul.wgsl behind `enable subgroups;` (engine/shaders.ts) and
// offered only on devices with the subgroups feature. It is main_vec4 (not TRANS_A) with A shared through
// the subgroup: the 4 lanes of a row of the 8×8 workgroup that own the same 4 rows of C (same m0) each load
// one of those rows' vec4 and take the other three by subgroupShuffle, so A is read once instead of four
// times. That needs subgroups of at least 4 consecutive invocations (every adapter seen so far); where it
// does not hold the results differ and the tuner drops the variant. Sums run in main_vec4's order, so the
// results equal main_vec4's bit for bit. No invocation returns early: shuffles need the whole subgroup.

@compute @workgroup_size(8, 8)
fn main_subgroups(
  @builtin(global_invocation_id) gid: vec3u,
  @builtin(local_invocation_id) lid: vec3u,
  @builtin(subgroup_invocation_id) lane: u32,
) {
  let m0 = gid.y * 4u;
  let n0 = gid.x * 4u;
  let own = lid.x % 4u;     // the row of C's block this lane loads A for
  let first = lane - own;   // the subgroup lane that loads row 0
  let inside = n0 < dims.N; // lanes past N read clamped B and store nothing
  var acc: array<vec4f, 4>;
  for (var k = 0u; k < dims.K; k += 4u) {
    let mine = rowA4(m0 + own, k);
    var a: array<vec4f, 4>;
    for (var r = 0u; r < 4u; r++) { a[r] = subgroupShuffle(mine, first + r); }
    let nb = select(0u, n0, inside);
    if (TRANS_B) {
      let b0 = B4[(nb * dims.K + k) / 4u];
      let b1 = B4[((nb + 1u) * dims.K + k) / 4u];
      let b2 = B4[((nb + 2u) * dims.K + k) / 4u];
      let b3 = B4[((nb + 3u) * dims.K + k) / 4u];
      for (var r = 0u; r < 4u; r++) { acc[r] += vec4f(dot(a[r], b0), dot(a[r], b1), dot(a[r], b2), dot(a[r], b3)); }
    } else {
      let b0 = B4[(k * dims.N + nb) / 4u];
      let b1 = B4[((k + 1u) * dims.N + nb) / 4u];
      let b2 = B4[((k + 2u) * dims.N + nb) / 4u];
      let b3 = B4[((k + 3u) * dims.N + nb) / 4u];
      for (var r = 0u; r < 4u; r++) {
        acc[r] = fma(vec4f(a[r].w), b3, fma(vec4f(a[r].z), b2, fma(vec4f(a[r].y), b1, fma(vec4f(a[r].x), b0, acc[r]))));
      }
    }
  }
  if (!inside) { return; }
  for (var r = 0u; r < 4u; r++) { storeRow4(m0 + r, n0, acc[r]); }
}
