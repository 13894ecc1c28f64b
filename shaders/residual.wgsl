// The residual stream's element-wise work:
//   add:        X += Y                          (a block's attention or MLP output joins the stream)
//   add_vector: X[r, j] += v[j]                 (a hook edit: a vector added at every position)
//   copy:       Y = X                           (a hook read, kept on the GPU until the pass is done)
//   take_last:  Y[b, j] = X[b·T + T − 1, j]     (each sequence's last position, for the next-token logits)

struct Elems { rows: u32, d: u32, T: u32 }

@group(0) @binding(0) var<uniform> u: Elems;
@group(0) @binding(1) var<storage, read_write> X: array<f32>;
@group(0) @binding(2) var<storage, read> Y: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read> src: array<f32>;
@group(0) @binding(5) var<storage, read_write> dst: array<f32>;

fn index(gid: vec3u, nwg: vec3u) -> u32 { return gid.x + gid.y * nwg.x * 64u; }

@compute @workgroup_size(64)
fn add(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = index(gid, nwg);
  if (i >= u.rows * u.d) { return; }
  X[i] += Y[i];
}

@compute @workgroup_size(64)
fn add_vector(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = index(gid, nwg);
  if (i >= u.rows * u.d) { return; }
  X[i] += v[i % u.d];
}

@compute @workgroup_size(64)
fn copy(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = index(gid, nwg);
  if (i >= u.rows * u.d) { return; }
  dst[i] = src[i];
}

// rows = sequences here
@compute @workgroup_size(64)
fn take_last(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = index(gid, nwg);
  if (i >= u.rows * u.d) { return; }
  let b = i / u.d;
  dst[i] = src[(b * u.T + u.T - 1u) * u.d + i % u.d];
}
