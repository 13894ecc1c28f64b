// The MLP's non-linearity on the up-projection U (rows, width):
//   plain: H[r, j] = act(U[r, j])                         (width = dFf; GPT-2)
//   GATED: H[r, j] = act(U[r, j]) · U[r, dFf + j]         (width = 2·dFf: gate, then up; Llama's SwiGLU)
// ACT: 0 GELU, tanh form (GPT-2's gelu_new); 1 GELU, erf form; 2 ReLU; 3 SiLU.

override ACT: u32 = 0u;
override GATED: bool = false;

struct Mlp { rows: u32, dFf: u32 }

@group(0) @binding(0) var<uniform> u: Mlp;
@group(0) @binding(1) var<storage, read> U: array<f32>;
@group(0) @binding(2) var<storage, read_write> H: array<f32>;   // (rows, dFf)

// erf by Abramowitz & Stegun 7.1.26 (absolute error below 1.5e-7, under float32's resolution near 1)
fn erf(x: f32) -> f32 {
  let t = 1.0 / (1.0 + 0.3275911 * abs(x));
  let y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * exp(-x * x);
  return select(-y, y, x >= 0.0);
}

fn act(x: f32) -> f32 {
  switch ACT {
    case 0u: {
      // tanh saturates long before |z| = 10; clamping keeps exp inside tanh from overflowing anywhere
      let z = clamp(0.7978845608028654 * (x + 0.044715 * x * x * x), -10.0, 10.0);
      return 0.5 * x * (1.0 + tanh(z));
    }
    case 1u: { return 0.5 * x * (1.0 + erf(x * 0.7071067811865476)); }
    case 2u: { return max(x, 0.0); }
    default: { return x / (1.0 + exp(-x)); }
  }
}

@compute @workgroup_size(64)
fn activate(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 64u;
  if (i >= u.rows * u.dFf) { return; }
  let r = i / u.dFf;
  let j = i % u.dFf;
  if (GATED) {
    H[i] = act(U[r * 2u * u.dFf + j]) * U[r * 2u * u.dFf + u.dFf + j];
  } else {
    H[i] = act(U[i]);
  }
}
