// Rotary position embeddings as Hugging Face transformers computes them: inverse frequencies
// θ^(−2i/headDim) in float32, optionally rescaled ('linear', or Llama 3's band-wise 'llama3'), and the angle
// of position p for pair i is f32(p · invFreq_i). Pairs are (i, i + headDim/2) ("rotate_half").
import type { ConfigReader, Json } from './families/read-config.ts';

const SCALINGS = ['default', 'linear', 'llama3'] as const;

export function rotaryInvFreq(headDim: number, theta: number, scaling: Json | null, r: ConfigReader): number[] {
  const half = headDim / 2;
  const f32 = Math.fround;
  // torch: 1 / base ** (arange(0, dim, 2).float() / dim), all in float32
  let inv = Array.from({ length: half }, (_, i) => f32(1 / f32(Math.pow(theta, f32(f32(2 * i) / headDim)))));
  if (!scaling) return inv;
  const type = scaling.rope_type ?? scaling.type ?? 'default';
  if (typeof type !== 'string' || !(SCALINGS as readonly string[]).includes(type)) {
    throw r.fail(`rope scaling type ${JSON.stringify(type)} is not supported; supported: ${SCALINGS.join(', ')}`);
  }
  const num = (key: string): number => {
    const v = scaling[key];
    if (typeof v !== 'number' || !(v > 0)) throw r.fail(`rope scaling '${type}' needs a positive '${key}', got ${JSON.stringify(v)}`);
    return v;
  };
  if (type === 'linear') {
    const factor = num('factor');
    inv = inv.map((x) => f32(x / factor));
  } else if (type === 'llama3') {
    const factor = num('factor');
    const low = num('low_freq_factor');
    const high = num('high_freq_factor');
    const oldLen = num('original_max_position_embeddings');
    const lowWavelen = oldLen / low;
    const highWavelen = oldLen / high;
    inv = inv.map((x) => {
      const wavelen = (2 * Math.PI) / x;
      if (wavelen < highWavelen) return x;
      if (wavelen > lowWavelen) return f32(x / factor);
      const smooth = (oldLen / wavelen - low) / (high - low);
      return f32((1 - smooth) * (x / factor) + smooth * x);
    });
  }
  return inv;
}

/** cos and sin of every (position, pair) for positions [0, n): (n, headDim/2) each, float32 */
export function rotaryTable(invFreq: readonly number[], n: number): { cos: Float32Array; sin: Float32Array } {
  const half = invFreq.length;
  const cos = new Float32Array(n * half);
  const sin = new Float32Array(n * half);
  for (let p = 0; p < n; p++) {
    for (let i = 0; i < half; i++) {
      const angle = Math.fround(Math.fround(p) * invFreq[i]);
      cos[p * half + i] = Math.cos(angle);
      sin[p * half + i] = Math.sin(angle);
    }
  }
  return { cos, sin };
}
