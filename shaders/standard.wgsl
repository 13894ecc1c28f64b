// The standard SAE's backward terms that are not GEMMs (RECIPE §1), fused into the GEMM outputs in place.
//   dpre:    dF[b,i] = (dF[b,i] + (λ/B)·n_i) · 1[f_b,i > 0]        with dF = G · W_decᵀ on entry
//   dec_pen: gW_dec[i,j] += (λ/B) · (Σ_b f_b,i) · W_dec[i,j] / n_i  with gW_dec = fᵀ · G on entry

struct Penalty { B: u32, F: u32, d: u32, lam_over_B: f32 }

@group(0) @binding(0) var<uniform> u: Penalty;
@group(0) @binding(1) var<storage, read> f: array<f32>;            // (B, F) features
@group(0) @binding(2) var<storage, read> norms: array<f32>;        // (F) decoder row norms
@group(0) @binding(3) var<storage, read_write> dF: array<f32>;     // (B, F) ∂L/∂pre
@group(0) @binding(4) var<storage, read> W_dec: array<f32>;        // (F, d)
@group(0) @binding(5) var<storage, read> fsum: array<f32>;         // (F) Σ_b f_b,i
@group(0) @binding(6) var<storage, read_write> gW_dec: array<f32>; // (F, d)

fn flat(gid: vec3u, nwg: vec3u) -> u32 { return gid.x + gid.y * nwg.x * 64u; }

@compute @workgroup_size(64)
fn dpre(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let idx = flat(gid, nwg);
  if (idx >= u.B * u.F) { return; }
  let i = idx % u.F;
  if (f[idx] > 0.0) { dF[idx] = dF[idx] + u.lam_over_B * norms[i]; } else { dF[idx] = 0.0; }
}

@compute @workgroup_size(64)
fn dec_pen(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let idx = flat(gid, nwg);
  if (idx >= u.F * u.d) { return; }
  let i = idx / u.d;
  gW_dec[idx] = gW_dec[idx] + u.lam_over_B * fsum[i] * W_dec[idx] / norms[i];
}
