// JumpReLU activations from pre-activations (SAELens's JumpReLU SAE, and a Gated SAE folded into one):
//   f[b, i] = ReLU(pre[b, i]) · 1[pre[b, i] > θ_i], in place over the (B, F) pre-activations.

struct Jump { B: u32, F: u32 }

@group(0) @binding(0) var<uniform> ju: Jump;
@group(0) @binding(1) var<storage, read> theta: array<f32>;       // (F)
@group(0) @binding(2) var<storage, read_write> acts: array<f32>;  // (B, F): pre in, f out

@compute @workgroup_size(64)
fn jump(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 64u;
  if (i >= ju.B * ju.F) { return; }
  let pre = acts[i];
  acts[i] = select(0.0, max(pre, 0.0), pre > theta[i % ju.F]);
}
