// Per-step bookkeeping kept on the GPU: which latents are dead, fire counters, and the step's metrics.
//   dead_mask:   dead_i = (step − lastFired_i ≥ deadSteps)       (evaluated before the step's batch counts)
//   fire_dense:  from dense f (B, F): fireCount_i += #rows with f > 0; lastFired_i = step + 1 if any
//   fire_sparse: the same from the TopK entry lists (only entries with a positive value are listed)
//   row_stats:   per row: l0 (#f > 0) and, for the standard SAE, Σ_i f_i·‖W_dec,i‖ (one shard's part when
//                the dictionary is split, added to the shards' before when acc)
//   loss:        one workgroup sums the per-row terms (fixed tree) into this step's slot of the metrics ring;
//                Matryoshka's inner reconstructions' Σ_w ‖x̂_w − x'‖² (0 elsewhere) join the loss, not recon

// acc: row_stats adds to what earlier feature shards wrote (engine/shards.ts)
struct Step { B: u32, F: u32, step: u32, dead_steps: u32, k: u32, slots: u32, sparse: u32, acc: u32 }
struct Loss { B: u32, F: u32, slot: u32, sparse: u32, lam: f32, inv_v: f32, alpha: f32 }

@group(0) @binding(0) var<uniform> u: Step;
@group(0) @binding(1) var<storage, read_write> lastFired: array<u32>;   // (F) step after the last fire
@group(0) @binding(2) var<storage, read_write> dead: array<u32>;        // (F) 1 = dead
@group(0) @binding(3) var<storage, read_write> fireCount: array<u32>;   // (F) rows fired, all training
@group(0) @binding(4) var<storage, read> f: array<f32>;                 // (B, F) dense features
@group(0) @binding(5) var<storage, read> offsets: array<u32>;           // (F + 1) entry-list offsets
@group(0) @binding(6) var<storage, read> lists: array<u32>;             // entries grouped by feature
@group(0) @binding(7) var<storage, read> norms: array<f32>;             // (F) decoder row norms
@group(0) @binding(8) var<storage, read> val: array<f32>;               // (B, slots) TopK values first
@group(0) @binding(9) var<storage, read_write> rowl0: array<f32>;       // (B)
@group(0) @binding(10) var<storage, read_write> rowterm: array<f32>;    // (B) standard: Σ f·n; TopK: ‖ê − e‖²
@group(0) @binding(11) var<uniform> lu: Loss;
@group(0) @binding(12) var<storage, read> rowsq: array<f32>;            // (B) ‖x̂ − x'‖²
@group(0) @binding(13) var<storage, read> rowl0_in: array<f32>;         // (B)
@group(0) @binding(14) var<storage, read> rowterm_in: array<f32>;       // (B)
@group(0) @binding(15) var<storage, read> dead_in: array<u32>;          // (F)
@group(0) @binding(16) var<storage, read> stats: array<f32>;            // step scalars, see engine/layout.ts
@group(0) @binding(17) var<storage, read_write> ring: array<f32>;       // (slots, 8) metrics ring
@group(0) @binding(18) var<storage, read> rowinner_in: array<f32>;      // (B) Matryoshka's inner terms

fn flat(gid: vec3u, nwg: vec3u) -> u32 { return gid.x + gid.y * nwg.x * 64u; }

@compute @workgroup_size(64)
fn dead_mask(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat(gid, nwg);
  if (i >= u.F) { return; }
  dead[i] = select(0u, 1u, u.step - lastFired[i] >= u.dead_steps);
}

@compute @workgroup_size(64)
fn fire_dense(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat(gid, nwg);
  if (i >= u.F) { return; }
  var c = 0u;
  for (var b = 0u; b < u.B; b++) { if (f[b * u.F + i] > 0.0) { c += 1u; } }
  fireCount[i] += c;
  if (c > 0u) { lastFired[i] = u.step + 1u; }
}

@compute @workgroup_size(64)
fn fire_sparse(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flat(gid, nwg);
  if (i >= u.F) { return; }
  var c = 0u;
  for (var p = offsets[i]; p < offsets[i + 1u]; p++) {
    if (lists[p] % u.slots < u.k) { c += 1u; }  // entry = b·slots + r; r < k is a main (not AuxK) entry
  }
  fireCount[i] += c;
  if (c > 0u) { lastFired[i] = u.step + 1u; }
}

@compute @workgroup_size(64)
fn row_stats(@builtin(global_invocation_id) gid: vec3u) {
  let b = gid.x;
  if (b >= u.B) { return; }
  var l0 = 0.0;
  if (u.sparse != 0u) {
    for (var r = 0u; r < u.k; r++) { if (val[b * u.slots + r] > 0.0) { l0 += 1.0; } }
  } else {
    var l1 = 0.0;
    for (var i = 0u; i < u.F; i++) {
      let a = f[b * u.F + i];
      if (a > 0.0) { l0 += 1.0; l1 += a * norms[i]; }
    }
    if (u.acc != 0u) { l0 += rowl0[b]; l1 += rowterm[b]; }
    rowterm[b] = l1;
  }
  rowl0[b] = l0;
}

const WG = 256u;
var<workgroup> tree: array<f32, 256>;

fn tree_total(lane: u32, s: f32) -> f32 {
  workgroupBarrier();
  tree[lane] = s;
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    workgroupBarrier();
    if (lane < stride) { tree[lane] += tree[lane + stride]; }
  }
  workgroupBarrier();
  return tree[0];
}

@compute @workgroup_size(256)
fn loss(@builtin(local_invocation_index) lane: u32) {
  var sq = 0.0; var l0 = 0.0; var term = 0.0; var nd = 0.0; var inner = 0.0;
  for (var b = lane; b < lu.B; b += WG) { sq += rowsq[b]; l0 += rowl0_in[b]; term += rowterm_in[b]; inner += rowinner_in[b]; }
  for (var i = lane; i < lu.F; i += WG) { nd += f32(dead_in[i]); }
  let sq_t = tree_total(lane, sq);
  let l0_t = tree_total(lane, l0);
  let term_t = tree_total(lane, term);
  let nd_t = tree_total(lane, nd);
  let inner_t = tree_total(lane, inner);
  if (lane != 0u) { return; }
  let B = f32(lu.B);
  var recon = sq_t / B;
  var sparsity = lu.lam * term_t / B;
  if (lu.sparse != 0u) {
    recon = recon * lu.inv_v;
    sparsity = 0.0;
    if (nd_t > 0.0 && stats[2] > 0.0) { sparsity = lu.alpha * term_t / (B * stats[2]); }
  }
  let o = lu.slot * 8u;
  ring[o + 0u] = recon + sparsity + inner_t * lu.inv_v / B;
  ring[o + 1u] = recon;
  ring[o + 2u] = sparsity;
  ring[o + 3u] = l0_t / B;
  ring[o + 4u] = stats[0];
  ring[o + 5u] = nd_t;
  ring[o + 6u] = stats[1];
  ring[o + 7u] = 0.0;
}
