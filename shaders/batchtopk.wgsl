// BatchTopK's selection over the batch (docs/RECIPE.md §8), after each row's TopK (topk.select_topk) put its
// cap of largest ReLU(pre) first in its slots: of those B·K values only the `total` largest stay (every value
// equal to the smallest kept one stays too), the others become 0 — kept entries of value 0 carry no gradient.
// The smallest kept value is found exactly by bisection on the bits of non-negative floats, which order like
// the numbers. Then the threshold the SAE is saved with moves towards the smallest positive kept value:
//   θ ← (1 − lr)·θ + lr·min{f > 0}        (bstate[0]; bstate[1] holds this batch's threshold)
// One workgroup; every count is a fixed tree sum, so the result does not depend on scheduling.

struct Batch { B: u32, S: u32, K: u32, total: u32, lr: f32 }

@group(0) @binding(0) var<uniform> bu: Batch;
@group(0) @binding(1) var<storage, read_write> pvals: array<f32>;   // (B, S): each row's K main values first
@group(0) @binding(2) var<storage, read_write> bstate: array<f32>;  // [θ, this batch's threshold]

const WG = 256u;
var<workgroup> tree: array<u32, 256>;
var<workgroup> shared_bits: u32;

/** the value's bits, 0 for anything not positive (−0 included) */
fn bits_of(e: u32) -> u32 {
  let v = pvals[(e / bu.K) * bu.S + e % bu.K];
  return select(0u, bitcast<u32>(v), v > 0.0);
}

fn tree_sum(lane: u32, x: u32) -> u32 {
  workgroupBarrier();
  tree[lane] = x;
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    workgroupBarrier();
    if (lane < stride) { tree[lane] += tree[lane + stride]; }
  }
  workgroupBarrier();
  if (lane == 0u) { shared_bits = tree[0]; }
  return workgroupUniformLoad(&shared_bits);
}

fn tree_min(lane: u32, x: u32) -> u32 {
  workgroupBarrier();
  tree[lane] = x;
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    workgroupBarrier();
    if (lane < stride) { tree[lane] = min(tree[lane], tree[lane + stride]); }
  }
  workgroupBarrier();
  if (lane == 0u) { shared_bits = tree[0]; }
  return workgroupUniformLoad(&shared_bits);
}

@compute @workgroup_size(256)
fn batch_threshold(@builtin(local_invocation_index) lane: u32) {
  let n = bu.B * bu.K;
  // the largest t with #{bits ≥ t} ≥ total: the bits of the total-th largest value
  var lo = 0u;
  var hi = 0x7f800000u;
  for (var it = 0u; it < 32u; it++) {
    let mid = lo + (hi - lo + 1u) / 2u;
    var c = 0u;
    for (var e = lane; e < n; e += WG) { if (bits_of(e) >= mid) { c += 1u; } }
    let count = tree_sum(lane, c);
    if (lo < hi) {
      if (count >= bu.total) { lo = mid; } else { hi = mid - 1u; }
    }
  }
  var least = 0xffffffffu;
  for (var e = lane; e < n; e += WG) {
    let b = bits_of(e);
    if (b < lo) { pvals[(e / bu.K) * bu.S + e % bu.K] = 0.0; } else if (b > 0u) { least = min(least, b); }
  }
  let m = tree_min(lane, least);
  if (lane == 0u) {
    bstate[1] = bitcast<f32>(lo);
    if (m != 0xffffffffu) { bstate[0] = (1.0 - bu.lr) * bstate[0] + bu.lr * bitcast<f32>(m); }
  }
}
