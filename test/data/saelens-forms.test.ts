// Every SAE form SAELens saves, beyond the fixtures' shapes: each round-trips through our SAELens writer and
// reader, runs on the GPU as the float64 reference computes it (odd widths, feature shards, transcoders with
// d_out ≠ d), F16/BF16 weights load, expected_average_only_in is folded from its saved scaling factor, and
// each bad folder is refused naming the file and the problem.
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { encodeSafetensors } from '../../src/data/formats/safetensors.ts';
import { decodeSaelens, encodeSaelens } from '../../src/data/formats/saelens.ts';
import { SaeRunner } from '../../src/engine/evaluate.ts';
import { Rng } from '../../src/engine/random.ts';
import { outWidth, type SaeWeights } from '../../src/engine/sae.ts';
import { saeActivations64, saeDecode64 } from '../../src/reference/sae-forward.ts';
import { getDevice } from '../support/gpu.ts';

const dec = new TextDecoder();

/** a random SAE of the given form; about half the features fire on the rows of `rows()` */
function formSae(form: Partial<SaeWeights> & Pick<SaeWeights, 'arch'>, d = 13, F = 150, seed = 3): SaeWeights {
  const rng = new Rng(seed, 11);
  const dOut = form.dOut ?? d;
  const n = (len: number, s: number, c = 0) => Float32Array.from({ length: len }, () => (rng.float() - 0.5) * s + c);
  return {
    d, features: F, applyBDecToInput: form.dOut === undefined, metadata: { hook_name: 'blocks.0.hook_resid_pre' },
    W_enc: n(d * F, 0.6), b_enc: n(F, 0.4, -0.1), W_dec: n(F * dOut, 0.5), b_dec: n(dOut, 0.2),
    ...(form.arch === 'jumprelu' ? { threshold: n(F, 0.4, 0.15) } : {}),
    ...(form.arch === 'topk' ? { k: 7 } : {}),
    ...form,
  };
}

function rows(n: number, d: number, seed = 5): Float32Array {
  const rng = new Rng(seed, 2);
  return Float32Array.from({ length: n * d }, () => (rng.float() - 0.45) * 3);
}

const FORMS: Record<string, Partial<SaeWeights> & Pick<SaeWeights, 'arch'>> = {
  jumprelu: { arch: 'jumprelu' },
  'standard, constant_norm_rescale': { arch: 'standard', normalize: 'constant_norm_rescale' },
  'jumprelu, layer_norm': { arch: 'jumprelu', normalize: 'layer_norm' },
  'topk, layer_norm': { arch: 'topk', normalize: 'layer_norm' },
  'standard, hook_z': { arch: 'standard', hookZ: true },
  transcoder: { arch: 'standard', dOut: 9 },
  skip_transcoder: { arch: 'standard', dOut: 9, W_skip: Float32Array.from({ length: 9 * 13 }, (_, i) => Math.sin(i) * 0.3) },
  jumprelu_transcoder: { arch: 'jumprelu', dOut: 20 },
};

const roundTrip = (sae: SaeWeights) => {
  const files = encodeSaelens(sae, undefined);
  return { back: decodeSaelens(dec.decode(files['cfg.json']), files['sae_weights.safetensors']!, 'sae'), cfg: JSON.parse(dec.decode(files['cfg.json'])) };
};

function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, what: string, tol = 1e-5): void {
  expect(got.length, what).toBe(want.length);
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!) / Math.max(1, Math.abs(want[i]!)));
  expect(worst, what).toBeLessThan(tol);
}

describe('SAE forms: saved and read back, run on the GPU', () => {
  for (const [name, form] of Object.entries(FORMS)) {
    it(`${name}: round-trips and the GPU runner matches float64 (also split into feature shards)`, async () => {
      const sae = formSae(form);
      const { back, cfg } = roundTrip(sae);
      expect({ ...back, metadata: undefined }).toEqual({ ...sae, metadata: undefined });
      expect(cfg.architecture).toBe(name.split(',')[0] === 'jumprelu_transcoder' ? 'jumprelu_transcoder' : name.split(',')[0]);
      expect(cfg.normalize_activations).toBe(sae.normalize ?? 'none');
      expect(cfg.reshape_activations).toBe(sae.hookZ ? 'hook_z' : 'none');
      const x = rows(37, sae.d);
      const f64 = saeActivations64(sae, x);
      const firing = f64.filter((v) => v > 0).length / f64.length;
      expect(firing).toBeGreaterThan(0.02);
      const recon64 = saeDecode64(sae, f64, x);
      expect(recon64.length).toBe(37 * outWidth(sae));
      for (const perShard of [undefined, 64]) {
        const runner = new SaeRunner(await getDevice(), sae, 16, perShard);
        try {
          const out = await runner.forward(x);
          expectClose(out.acts, f64, `${name} acts, shards of ${perShard ?? 'all'}`);
          expectClose(out.recon, recon64, `${name} reconstruction, shards of ${perShard ?? 'all'}`);
        } finally {
          runner.destroy();
        }
      }
    });
  }

  it("a transcoder is evaluated against the activation it writes, and refuses to evaluate without it", async () => {
    const sae = formSae(FORMS.skip_transcoder!);
    const x = rows(40, sae.d);
    const y = rows(40, 9, 8);
    const runner = new SaeRunner(await getDevice(), sae, 16);
    try {
      const m = await runner.evaluate([{ x, y }]);
      const xhat = saeDecode64(sae, saeActivations64(sae, x), x);
      let sq = 0;
      for (let i = 0; i < y.length; i++) sq += (y[i]! - xhat[i]!) ** 2;
      expect(m.mse_per_token).toBeCloseTo(sq / 40, 4);
      expect(m.eval_tokens).toBe(40);
      await expect(runner.evaluate([x])).rejects.toThrow('a transcoder is evaluated against the activation it writes');
    } finally {
      runner.destroy();
    }
  });
});

describe('SAE weights in other dtypes and scales', () => {
  /** sae_weights.safetensors with every tensor in BF16 (float32's upper half) */
  function bf16Weights(sae: SaeWeights): { bytes: Uint8Array; rounded: SaeWeights } {
    const tensors: [string, number[], Float32Array][] = [
      ['W_enc', [sae.d, sae.features], sae.W_enc], ['b_enc', [sae.features], sae.b_enc],
      ['W_dec', [sae.features, sae.d], sae.W_dec], ['b_dec', [sae.d], sae.b_dec], ['threshold', [sae.features], sae.threshold!],
    ];
    const header: Record<string, unknown> = {};
    let offset = 0;
    for (const [name, shape, data] of tensors) {
      header[name] = { dtype: 'BF16', shape, data_offsets: [offset, offset + 2 * data.length] };
      offset += 2 * data.length;
    }
    const json = new TextEncoder().encode(JSON.stringify(header));
    const out = new Uint8Array(8 + json.length + offset);
    new DataView(out.buffer).setUint32(0, json.length, true);
    out.set(json, 8);
    const view = new DataView(out.buffer);
    let at = 8 + json.length;
    const rounded: Record<string, Float32Array> = {};
    for (const [name, , data] of tensors) {
      const bits = new Uint32Array(Float32Array.from(data).buffer);
      rounded[name] = new Float32Array(new Uint32Array(bits.map((b) => b & 0xffff0000)).buffer);
      for (const b of bits) (view.setUint16(at, b >>> 16, true), (at += 2));
    }
    return { bytes: out, rounded: { ...sae, W_enc: rounded.W_enc!, b_enc: rounded.b_enc!, W_dec: rounded.W_dec!, b_dec: rounded.b_dec!, threshold: rounded.threshold! } };
  }

  it('BF16 weights load as the float32 values they hold', () => {
    const sae = formSae({ arch: 'jumprelu' });
    const { bytes, rounded } = bf16Weights(sae);
    const cfg = dec.decode(encodeSaelens(sae, undefined)['cfg.json']).replace('"float32"', '"bfloat16"');
    const back = decodeSaelens(cfg, bytes, 'bf16');
    expect({ ...back, metadata: undefined }).toEqual({ ...rounded, metadata: undefined });
  });

  it('expected_average_only_in: the saved scaling factor folded in, as SAELens folds it when training ends', () => {
    const sae = formSae({ arch: 'standard' });
    const s = 2.5;
    const files = encodeSaelens(sae, undefined);
    const cfg = dec.decode(files['cfg.json']).replace('"normalize_activations": "none"', '"normalize_activations": "expected_average_only_in"');
    const folded = decodeSaelens(cfg, files['sae_weights.safetensors']!, 'ckpt', { activationScaler: JSON.stringify({ scaling_factor: s }) });
    expect(folded.normalize).toBeUndefined();
    // the folded SAE on x computes what the saved one computes on s·x, and returns its x̂ divided by s
    const x = rows(20, sae.d);
    const sx = x.map((v) => v * s);
    expectClose(saeActivations64(folded, x), saeActivations64(sae, sx), 'acts', 1e-5);
    const want = saeDecode64(sae, saeActivations64(sae, sx), sx).map((v) => v / s);
    expectClose(saeDecode64(folded, saeActivations64(folded, x), x), want, 'reconstruction', 1e-5);
    expect(() => decodeSaelens(cfg, files['sae_weights.safetensors']!, 'ckpt')).toThrow(
      'ckpt/cfg.json: normalize_activations "expected_average_only_in" needs the scaling factor SAELens estimated in training, and the folder has no activation_scaler.json',
    );
    expect(() => decodeSaelens(cfg, files['sae_weights.safetensors']!, 'ckpt', { activationScaler: '{"scaling_factor": null}' })).toThrow(
      "ckpt/activation_scaler.json: 'scaling_factor' must be a positive number, got null",
    );
  });
});

describe('a BatchTopK checkpoint saved mid-training (SAELens\'s training form)', () => {
  const TRAIN = resolve(__dirname, '../../../shared/fixtures/saelens6/train/batchtopk');
  it.skipIf(!existsSync(TRAIN))('loads as the JumpReLU SAE SAELens makes of it: the norms folded in, its batch threshold for every feature', async () => {
    const npy = (f: string) => {
      const bytes = new Uint8Array(readFileSync(join(TRAIN, f)));
      const hl = new DataView(bytes.buffer).getUint16(8, true);
      return new Float32Array(bytes.slice(10 + hl).buffer);
    };
    const [d, F] = [32, 96];
    const theta = JSON.parse(readFileSync(join(TRAIN, 'after/topk_threshold.json'), 'utf8')).topk_threshold as number;
    const p = { W_enc: npy('params/W_enc.npy'), b_enc: npy('params/b_enc.npy'), W_dec: npy('params/W_dec.npy'), b_dec: npy('params/b_dec.npy') };
    const weights = encodeSafetensors({
      W_enc: { shape: [d, F], data: p.W_enc }, b_enc: { shape: [F], data: p.b_enc }, W_dec: { shape: [F, d], data: p.W_dec },
      b_dec: { shape: [d], data: p.b_dec }, topk_threshold: { shape: [], data: Float32Array.of(theta) },
    });
    const cfg = JSON.stringify({ architecture: 'batchtopk', d_in: d, d_sae: F, k: 6.0, rescale_acts_by_decoder_norm: true, apply_b_dec_to_input: true, metadata: {} });
    const sae = decodeSaelens(cfg, weights, 'checkpoint');
    expect([sae.arch, sae.k, sae.threshold![5]]).toEqual(['jumprelu', undefined, Math.fround(theta)]);
    // SAELens's inference form by hand: hidden_pre = ((x − b_dec)·W_enc + b_enc)·‖W_dec,i‖, kept where > θ, decoded divided by ‖W_dec,i‖
    const x = npy('batch.npy');
    const B = x.length / d;
    const norms = Array.from({ length: F }, (_, i) => Math.hypot(...p.W_dec.subarray(i * d, (i + 1) * d)));
    const f = new Float64Array(B * F);
    const xhat = new Float64Array(B * d);
    for (let b = 0; b < B; b++) {
      for (let i = 0; i < F; i++) {
        let u = p.b_enc[i]!;
        for (let j = 0; j < d; j++) u += (x[b * d + j]! - p.b_dec[j]!) * p.W_enc[j * F + i]!;
        const pre = u * norms[i]!;
        f[b * F + i] = pre > Math.fround(theta) ? pre : 0;
      }
      for (let j = 0; j < d; j++) {
        let s = p.b_dec[j]!;
        for (let i = 0; i < F; i++) s += (f[b * F + i]! / norms[i]!) * p.W_dec[i * d + j]!;
        xhat[b * d + j] = s;
      }
    }
    expect(f.some((v) => v > 0) && f.some((v) => v === 0)).toBe(true);
    const got = saeActivations64(sae, x);
    expectClose(got, f, 'feature activations', 1e-5);
    expectClose(saeDecode64(sae, got, x), xhat, 'reconstruction', 1e-5);
    expect(() => decodeSaelens(cfg, encodeSafetensors({ W_enc: { shape: [d, F], data: p.W_enc }, b_enc: { shape: [F], data: p.b_enc }, W_dec: { shape: [F, d], data: p.W_dec }, b_dec: { shape: [d], data: p.b_dec } }), 'checkpoint'))
      .toThrow("checkpoint/sae_weights.safetensors: missing tensor 'topk_threshold' (the batch threshold of a BatchTopK SAE in training)");
  });
});

describe('SAE folders refused, naming the problem', () => {
  const files = (sae: SaeWeights) => encodeSaelens(sae, undefined);
  const cfgOf = (sae: SaeWeights, over: Record<string, unknown>) => JSON.stringify({ ...JSON.parse(dec.decode(files(sae)['cfg.json'])), ...over });

  it('an unknown architecture', () => {
    const sae = formSae({ arch: 'standard' });
    expect(() => decodeSaelens(cfgOf(sae, { architecture: 'crosscoder' }), files(sae)['sae_weights.safetensors']!, 'x')).toThrow(
      'x/cfg.json: architecture "crosscoder" is not one SAELens saves (supported: "standard", "topk", "jumprelu", "gated", "transcoder", "skip_transcoder", "jumprelu_transcoder", "batchtopk", "matryoshka_batchtopk")',
    );
  });

  it('a JumpReLU SAE without its threshold, a Gated one without its gate', () => {
    const sae = formSae({ arch: 'standard' });
    const w = files(sae)['sae_weights.safetensors']!;
    expect(() => decodeSaelens(cfgOf(sae, { architecture: 'jumprelu' }), w, 'x')).toThrow(
      "x/sae_weights.safetensors: missing tensor 'threshold' (the per-feature threshold of a JumpReLU SAE); the file has: W_enc, b_enc, W_dec, b_dec",
    );
    expect(() => decodeSaelens(cfgOf(sae, { architecture: 'gated' }), w, 'x')).toThrow("missing tensor 'b_gate' (the gate bias of a Gated SAE)");
  });

  it('a d_sae that disagrees with the weights', () => {
    const sae = formSae({ arch: 'jumprelu' });
    expect(() => decodeSaelens(cfgOf(sae, { d_sae: 151 }), files(sae)['sae_weights.safetensors']!, 'x')).toThrow(
      "x/sae_weights.safetensors: tensor 'W_enc' has shape [13, 150] but cfg.json implies [13, 151]",
    );
  });

  it('a NaN threshold, and Inf in a transcoder skip connection', () => {
    const jr = formSae({ arch: 'jumprelu' });
    jr.threshold![17] = NaN;
    expect(() => decodeSaelens(dec.decode(files(jr)['cfg.json']), files(jr)['sae_weights.safetensors']!, 'x')).toThrow(
      "x/sae_weights.safetensors: tensor 'threshold' holds NaN at index 17; every weight must be finite",
    );
    const skip = formSae(FORMS.skip_transcoder!);
    skip.W_skip = skip.W_skip!.slice();
    skip.W_skip[13 * 2 + 4] = -Infinity;
    expect(() => decodeSaelens(dec.decode(files(skip)['cfg.json']), files(skip)['sae_weights.safetensors']!, 'x')).toThrow(
      "x/sae_weights.safetensors: tensor 'W_skip' holds -Infinity at row 2, column 4; every weight must be finite",
    );
  });

  it('a transcoder without d_out, or one that subtracts b_dec from its input', () => {
    const sae = formSae(FORMS.transcoder!);
    const w = files(sae)['sae_weights.safetensors']!;
    expect(() => decodeSaelens(cfgOf(sae, { d_out: undefined }), w, 'x')).toThrow("x/cfg.json: 'd_out' must be a positive integer, got undefined");
    expect(() => decodeSaelens(cfgOf(sae, { apply_b_dec_to_input: true }), w, 'x')).toThrow(
      "x/cfg.json: apply_b_dec_to_input true cannot be: a transcoder's b_dec has d_out values, not d_in",
    );
  });

  it('a normalisation or a reshape SAELens does not define', () => {
    const sae = formSae({ arch: 'standard' });
    const w = files(sae)['sae_weights.safetensors']!;
    expect(() => decodeSaelens(cfgOf(sae, { normalize_activations: 'rms' }), w, 'x')).toThrow(
      'x/cfg.json: normalize_activations "rms" is not one SAELens defines',
    );
    expect(() => decodeSaelens(cfgOf(sae, { reshape_activations: 'heads' }), w, 'x')).toThrow('x/cfg.json: reshape_activations "heads" is not one SAELens defines ("none", "hook_z")');
  });
});
