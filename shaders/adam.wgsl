// Adam over every parameter in one dispatch (PyTorch's form), the gradient first scaled by the clip factor:
//   g = stats[1]·grad;  m ← β1 m + (1−β1) g;  v ← β2 v + (1−β2) g²;  p ← p − (lr/bc1) · m / (sqrt(v)/sqrt(bc2) + ε)
// with bc1 = 1 − β1^t, bc2 = 1 − β2^t computed on the CPU for step t (1-based) — no readback needed.

// Four parameters per invocation (vec4 loads): the flat buffers' length is a multiple of 64 (engine/layout.ts).
// 256 invocations per workgroup: a software adapter pays per workgroup, and there are millions of parameters.
struct Adam { n: u32, lr_over_bc1: f32, sqrt_bc2: f32, beta1: f32, beta2: f32, eps: f32 }

@group(0) @binding(0) var<uniform> u: Adam;
@group(0) @binding(1) var<storage, read> grads: array<vec4f>;
@group(0) @binding(2) var<storage, read> stats: array<f32>;
@group(0) @binding(3) var<storage, read_write> params: array<vec4f>;
@group(0) @binding(4) var<storage, read_write> m1: array<vec4f>;
@group(0) @binding(5) var<storage, read_write> m2: array<vec4f>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= u.n / 4u) { return; }
  let g = stats[1] * grads[i];
  let m = u.beta1 * m1[i] + (1.0 - u.beta1) * g;
  let v = u.beta2 * m2[i] + (1.0 - u.beta2) * g * g;
  m1[i] = m;
  m2[i] = v;
  params[i] = params[i] - u.lr_over_bc1 * m / (sqrt(v) / u.sqrt_bc2 + vec4f(u.eps));
}
