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
  let v = acts[i];
  acts[i] = select(0.0, max(v, 0.0), v > theta[i % ju.F]);
}

// ---------------------------------------------------------------------------------------------------------
// Training (docs/RECIPE.md §7), on the scaled inputs with a learned log-threshold, θ_i = exp(logθ_i):
//   forward:  f = pre · 1[pre > θ]
//   penalty:  MODE_TANH 0: c·H(pre − θ) (the step function);  1: c·tanh(s·f·n) with n_i = ‖W_dec,i‖
//             plus, where PRE_ACT, a·ReLU(θ − pre)·dead·n (the pre-activation loss on dead latents)
//   backward, with K(z) = 1[|z| < ½] the rectangle kernel of bandwidth ε and gf = ∂L/∂f:
//     ∂f/∂pre = 1[pre > θ],  ∂f/∂θ = −(θ/ε)K((pre − θ)/ε),  ∂H/∂θ = −(1/ε)K((pre − θ)/ε)
//   train_feature: per feature, Σ_b of the threshold's and the decoder norm's terms (∂logθ = θ·∂θ)
//   train_dpre:    per entry, dF ← ∂L/∂pre (dF = G·W_decᵀ on entry)
//   train_rows:    per row, L0 and the whole penalty (added to earlier feature shards' where acc)

override MODE_TANH: bool = false;
override PRE_ACT: bool = false;

// c_B = c/B, a_B = a/B (the coefficients over the batch size)
struct JumpTrain { B: u32, F: u32, c_B: f32, eps: f32, s: f32, a_B: f32, acc: u32 }

@group(0) @binding(3) var<uniform> jt: JumpTrain;
@group(0) @binding(4) var<storage, read> log_theta: array<f32>;   // (F)
@group(0) @binding(5) var<storage, read> pre: array<f32>;         // (B, F)
@group(0) @binding(6) var<storage, read_write> f: array<f32>;     // (B, F)
@group(0) @binding(7) var<storage, read> f_in: array<f32>;        // (B, F)
@group(0) @binding(8) var<storage, read> norms: array<f32>;       // (F) decoder row norms
@group(0) @binding(9) var<storage, read> dead: array<u32>;        // (F) 1 = dead
@group(0) @binding(10) var<storage, read_write> dF: array<f32>;   // (B, F) G·W_decᵀ in, ∂L/∂pre out
@group(0) @binding(11) var<storage, read_write> g_log_theta: array<f32>; // (F)
@group(0) @binding(12) var<storage, read_write> dnorm: array<f32>;       // (F) ∂L/∂n_i
@group(0) @binding(13) var<storage, read_write> rowl0: array<f32>;       // (B)
@group(0) @binding(14) var<storage, read_write> rowterm: array<f32>;     // (B) the penalty

fn rect(z: f32) -> f32 { return select(0.0, 1.0, z > -0.5 && z < 0.5); }

/** ∂L/∂f of one entry: the decoder's, plus the tanh penalty's */
fn grad_f(k: u32, i: u32) -> f32 {
  var g = dF[k];
  if (MODE_TANH) {
    let t = tanh(jt.s * f_in[k] * norms[i]);
    g += jt.c_B * jt.s * norms[i] * (1.0 - t * t);
  }
  return g;
}

@compute @workgroup_size(64)
fn train_forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let k = gid.x + gid.y * nwg.x * 64u;
  if (k >= jt.B * jt.F) { return; }
  let p = pre[k];
  f[k] = select(0.0, p, p > exp(log_theta[k % jt.F]));
}

@compute @workgroup_size(64)
fn train_feature(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 64u;
  if (i >= jt.F) { return; }
  let th = exp(log_theta[i]);
  var gt = 0.0;
  var gn = 0.0;
  for (var b = 0u; b < jt.B; b++) {
    let k = b * jt.F + i;
    let p = pre[k];
    let K = rect((p - th) / jt.eps);
    gt -= grad_f(k, i) * (th / jt.eps) * K;
    if (MODE_TANH) {
      let t = tanh(jt.s * f_in[k] * norms[i]);
      gn += jt.c_B * jt.s * f_in[k] * (1.0 - t * t);
    } else {
      gt -= jt.c_B * K / jt.eps;
    }
    if (PRE_ACT && dead[i] != 0u && th > p) {
      gt += jt.a_B * norms[i];
      gn += jt.a_B * (th - p);
    }
  }
  g_log_theta[i] = gt * th;
  dnorm[i] = gn;
}

@compute @workgroup_size(64)
fn train_dpre(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let k = gid.x + gid.y * nwg.x * 64u;
  if (k >= jt.B * jt.F) { return; }
  let i = k % jt.F;
  let p = pre[k];
  let th = exp(log_theta[i]);
  var g = select(0.0, grad_f(k, i), p > th);
  if (PRE_ACT && dead[i] != 0u && th > p) { g -= jt.a_B * norms[i]; }
  dF[k] = g;
}

@compute @workgroup_size(64)
fn train_rows(@builtin(global_invocation_id) gid: vec3u) {
  let b = gid.x;
  if (b >= jt.B) { return; }
  var l0 = 0.0;
  var term = 0.0;
  for (var i = 0u; i < jt.F; i++) {
    let k = b * jt.F + i;
    let p = pre[k];
    let th = exp(log_theta[i]);
    if (p > th) { l0 += 1.0; }
    let B = f32(jt.B);
    if (MODE_TANH) { term += jt.c_B * B * tanh(jt.s * f_in[k] * norms[i]); } else if (p > th) { term += jt.c_B * B; }
    if (PRE_ACT && dead[i] != 0u && th > p) { term += jt.a_B * B * (th - p) * norms[i]; }
  }
  if (jt.acc != 0u) { l0 += rowl0[b]; term += rowterm[b]; }
  rowl0[b] = l0;
  rowterm[b] = term;
}
