// Token (and learned position) embedding of a batch of sequences: row r = b·T + t holds token ids[r] at
// position pos0 + t (pos0: the positions already in the key/value cache).
//   X[r, j] = wte[ids[r], j] + wpe[pos0 + t, j]   (the wpe term only when LEARNED)

override LEARNED: bool = false;

struct Embed { rows: u32, T: u32, d: u32, pos0: u32 }

@group(0) @binding(0) var<uniform> u: Embed;
@group(0) @binding(1) var<storage, read> ids: array<u32>;     // (rows)
@group(0) @binding(2) var<storage, read> wte: array<f32>;     // (vocab, d)
@group(0) @binding(3) var<storage, read> wpe: array<f32>;     // (positions, d), read only when LEARNED
@group(0) @binding(4) var<storage, read_write> X: array<f32>; // (rows, d)

@compute @workgroup_size(64)
fn embed(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 64u;
  if (i >= u.rows * u.d) { return; }
  let r = i / u.d;
  let j = i % u.d;
  var x = wte[ids[r] * u.d + j];
  if (LEARNED) { x += wpe[(u.pos0 + r % u.T) * u.d + j]; }
  X[i] = x;
}
