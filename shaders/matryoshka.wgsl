// Matryoshka BatchTopK (docs/RECIPE.md §8): each inner width w of the nesting reconstructs x' from features
// [0, w) alone, x̂'_w, and adds ‖x̂'_w − x'‖²/(B·v) to the loss. A feature of group g (widths[g−1] ≤ i <
// widths[g]) is in the reconstructions of widths g … n−1, so its entries' gradient vector is the sum of theirs:
//   Gcum_g = G + Σ_{inner j ≥ g} coef·(x̂'_{w_j} − x')          (Gcum_{n−1} = G, the full reconstruction's)
// nested_grads turns G (block 0 on entry) into the blocks Gcum_0 … Gcum_{n−1}, `blk` floats apart: Gcum_0 is
// every reconstruction's, which is what ∂b_dec sums. It also writes each row's Σ_w ‖x̂'_w − x'‖² for the loss.

struct Nest { B: u32, d: u32, n: u32, blk: u32, coef: f32 }

@group(0) @binding(0) var<uniform> nu: Nest;
@group(0) @binding(1) var<storage, read> Xs: array<f32>;              // (B, d) x'
@group(0) @binding(2) var<storage, read> Xin: array<f32>;             // n − 1 blocks (B, d): x̂'_w, inner widths
@group(0) @binding(3) var<storage, read_write> G: array<f32>;         // n blocks (B, d), G in block 0 on entry
@group(0) @binding(4) var<storage, read_write> rowinner: array<f32>;  // (B)

@compute @workgroup_size(64)
fn nested_grads(@builtin(global_invocation_id) gid: vec3u) {
  let b = gid.x;
  if (b >= nu.B) { return; }
  var sq = 0.0;
  for (var j = 0u; j < nu.d; j++) {
    let i = b * nu.d + j;
    var acc = G[i];
    G[(nu.n - 1u) * nu.blk + i] = acc;
    for (var g = nu.n - 1u; g > 0u; g--) {
      let e = Xin[(g - 1u) * nu.blk + i] - Xs[i];
      sq += e * e;
      acc += nu.coef * e;
      G[(g - 1u) * nu.blk + i] = acc;
    }
  }
  rowinner[b] = sq;
}
