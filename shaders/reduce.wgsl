// Deterministic reductions (no float atomics; every sum has one fixed grouping).
//   colsum:        out[n] = Σ_m A[m, n] over an (M, N) matrix, m ascending, one invocation per column
//   sumsq_partials: partial[64w + l] = Σ x² over lane l's share (stride 64) of the w-th chunk of a flat array
//   clip:          one workgroup: ‖g‖ = sqrt(Σ partial) into stats[0]; stats[1] = min(1, max/(‖g‖ + 1e-6))
//                  when clipping, else 1 (PyTorch's clip_grad_norm_)

struct Cols { M: u32, N: u32 }
struct Flat { n: u32, chunk: u32, parts: u32, clip: f32 }

@group(0) @binding(0) var<uniform> cols: Cols;
@group(0) @binding(1) var<storage, read> A: array<f32>;               // (M, N)
@group(0) @binding(2) var<storage, read_write> out: array<f32>;       // (N)
@group(0) @binding(3) var<uniform> flat: Flat;
@group(0) @binding(4) var<storage, read> values: array<f32>;          // (n) e.g. every gradient
@group(0) @binding(5) var<storage, read_write> partial: array<f32>;   // (parts · 64)
@group(0) @binding(6) var<storage, read_write> stats: array<f32>;     // step scalars, see engine/layout.ts

const WG = 256u;
var<workgroup> tree: array<f32, 256>;

@compute @workgroup_size(64)
fn colsum(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let n = gid.x + gid.y * nwg.x * 64u;
  if (n >= cols.N) { return; }
  var s = 0.0;
  for (var m = 0u; m < cols.M; m++) { s += A[m * cols.N + n]; }
  out[n] = s;
}

fn tree_sum(lane: u32) {
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    workgroupBarrier();
    if (lane < stride) { tree[lane] += tree[lane + stride]; }
  }
  workgroupBarrier();
}

// No barrier: each lane keeps its own partial (barriers cost more than the sums on a software adapter, where
// a 256-lane tree per 4096 values made this the slowest kernel of a TopK step). Lanes stride by 64, so
// neighbouring lanes read neighbouring values.
@compute @workgroup_size(64)
fn sumsq_partials(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lane: u32) {
  let start = wid.x * flat.chunk;
  let end = min(start + flat.chunk, flat.n);
  var s = 0.0;
  for (var i = start + lane; i < end; i += 64u) { s += values[i] * values[i]; }
  partial[wid.x * 64u + lane] = s;
}

@compute @workgroup_size(256)
fn clip(@builtin(local_invocation_index) lane: u32) {
  var s = 0.0;
  for (var i = lane; i < flat.parts * 64u; i += WG) { s += partial[i]; }
  tree[lane] = s;
  tree_sum(lane);
  if (lane == 0u) {
    let norm = sqrt(tree[0]);
    stats[0] = norm;
    if (flat.clip > 0.0) { stats[1] = min(1.0, flat.clip / (norm + 1e-6)); } else { stats[1] = 1.0; }
  }
}
