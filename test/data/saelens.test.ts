// SAELens folders: every golden fixture decodes and reproduces its feature activations and reconstructions
// (float64 forward pass), encode → decode round-trips, cfg.json carries SAELens 6's keys, and bad folders
// are refused with specific messages.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MemorySource } from '../../src/data/memory-source.ts';
import { openNpy } from '../../src/data/formats/npy.ts';
import { encodeSafetensors, readSafetensorsTensors } from '../../src/data/formats/safetensors.ts';
import { decodeSaelens, encodeSaelens } from '../../src/data/formats/saelens.ts';
import type { SaeWeights } from '../../src/engine/sae.ts';

const FIXTURES = '/work/shared/fixtures/saelens';
const FOLDERS = ['v6-standard', 'v6-topk', 'legacy-standard'];

async function readNpy(path: string): Promise<{ data: Float32Array; rows: number; d: number }> {
  const src = await openNpy(new MemorySource(readFileSync(path), path));
  return { data: await src.readRows(0, src.rows), rows: src.rows, d: src.d };
}

function loadFolder(folder: string): SaeWeights {
  const dir = join(FIXTURES, folder);
  return decodeSaelens(readFileSync(join(dir, 'cfg.json'), 'utf8'), readFileSync(join(dir, 'sae_weights.safetensors')), folder);
}

/** the fixture README's forward pass in float64: features (rows × F) and reconstruction (rows × d) */
function forward(sae: SaeWeights, x: Float32Array, rows: number): { f: Float64Array; xhat: Float64Array } {
  const { d, features: F } = sae;
  const f = new Float64Array(rows * F);
  const xhat = new Float64Array(rows * d);
  const pre = new Float64Array(F);
  for (let r = 0; r < rows; r++) {
    pre.set(sae.b_enc);
    for (let i = 0; i < d; i++) {
      const xi = x[r * d + i] - (sae.applyBDecToInput ? sae.b_dec[i] : 0);
      for (let j = 0; j < F; j++) pre[j] += xi * sae.W_enc[i * F + j];
    }
    const keep = sae.arch === 'topk' ? topkMask(pre, sae.k!) : null;
    for (let j = 0; j < F; j++) f[r * F + j] = (keep === null || keep[j]) && pre[j] > 0 ? pre[j] : 0;
    for (let i = 0; i < d; i++) {
      let s = sae.b_dec[i];
      for (let j = 0; j < F; j++) s += f[r * F + j] * sae.W_dec[j * d + i];
      xhat[r * d + i] = s;
    }
  }
  return { f, xhat };
}

function topkMask(pre: Float64Array, k: number): boolean[] {
  const order = [...pre.keys()].sort((a, b) => pre[b] - pre[a]);
  const keep = new Array<boolean>(pre.length).fill(false);
  for (const j of order.slice(0, k)) keep[j] = true;
  return keep;
}

/** ‖got − want‖ / ‖want‖ and max|got − want| / max|want| */
function relErrors(got: Float64Array, want: Float32Array): [number, number] {
  let num = 0, den = 0, maxDiff = 0, maxWant = 0;
  for (let i = 0; i < want.length; i++) {
    const e = got[i] - want[i];
    num += e * e;
    den += want[i] * want[i];
    maxDiff = Math.max(maxDiff, Math.abs(e));
    maxWant = Math.max(maxWant, Math.abs(want[i]));
  }
  return [Math.sqrt(num / den), maxDiff / maxWant];
}

describe('decodeSaelens on the golden fixtures', () => {
  for (const folder of FOLDERS) {
    it(`${folder}: reproduces expected_feature_acts and expected_reconstruction`, async () => {
      const sae = loadFolder(folder);
      const x = await readNpy(join(FIXTURES, 'inputs.npy'));
      const { f, xhat } = forward(sae, x.data, x.rows);
      const wantF = await readNpy(join(FIXTURES, folder, 'expected_feature_acts.npy'));
      const wantX = await readNpy(join(FIXTURES, folder, 'expected_reconstruction.npy'));
      expect([wantF.rows, wantF.d, wantX.rows, wantX.d]).toEqual([256, sae.features, 256, sae.d]);
      for (const err of [...relErrors(f, wantF.data), ...relErrors(xhat, wantX.data)]) expect(err).toBeLessThan(1e-5);
    });
  }

  it('reads each layout’s settings', () => {
    const pick = (s: SaeWeights) => [s.arch, s.d, s.features, s.k, s.applyBDecToInput, s.metadata.hook_name];
    expect(pick(loadFolder('v6-standard'))).toEqual(['standard', 32, 64, undefined, false, 'blocks.0.hook_resid_post']);
    expect(pick(loadFolder('v6-topk'))).toEqual(['topk', 32, 64, 4, true, 'blocks.0.hook_resid_post']);
    expect(pick(loadFolder('legacy-standard'))).toEqual(['standard', 32, 64, undefined, true, 'blocks.0.hook_resid_post']);
    expect(loadFolder('legacy-standard').metadata.context_size).toBe(128);
  });
});

function tinySae(arch: 'standard' | 'topk'): SaeWeights {
  const d = 3, F = 4;
  const seq = (n: number, a: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(a + i));
  return {
    arch, d, features: F, ...(arch === 'topk' ? { k: 2 } : {}), applyBDecToInput: arch === 'topk',
    W_enc: seq(d * F, 1), b_enc: seq(F, 2), W_dec: seq(F * d, 3), b_dec: seq(d, 4),
    metadata: { model_name: 'use-lite', hook_name: 'layer0/residual' },
  };
}

const decodeFiles = (files: Record<string, Uint8Array>, name = 'sae') =>
  decodeSaelens(new TextDecoder().decode(files['cfg.json']), files['sae_weights.safetensors'], name);

describe('encodeSaelens', () => {
  for (const arch of ['standard', 'topk'] as const) {
    it(`${arch}: round-trips through decodeSaelens`, () => {
      const sae = tinySae(arch);
      const back = decodeFiles(encodeSaelens(sae, undefined, { context_size: 64 }));
      expect({ ...back, metadata: undefined }).toEqual({ ...sae, metadata: undefined });
      expect(back.metadata).toMatchObject({ model_name: 'use-lite', hook_name: 'layer0/residual', context_size: 64 });
    });
  }

  it('writes exactly the keys of the SAELens 6 fixtures, in their order', () => {
    for (const [arch, folder] of [['standard', 'v6-standard'], ['topk', 'v6-topk']] as const) {
      const cfg = JSON.parse(new TextDecoder().decode(encodeSaelens(tinySae(arch), undefined)['cfg.json']));
      const fixture = JSON.parse(readFileSync(join(FIXTURES, folder, 'cfg.json'), 'utf8'));
      expect(Object.keys(cfg)).toEqual(Object.keys(fixture));
      expect(Object.keys(cfg.metadata)).toEqual(Object.keys(fixture.metadata));
      expect(cfg).toMatchObject({ dtype: 'float32', device: 'cpu', normalize_activations: 'none', reshape_activations: 'none', architecture: arch });
      expect(cfg.metadata.hook_head_index).toBeNull();
      if (arch === 'topk') expect([cfg.k, cfg.rescale_acts_by_decoder_norm, cfg.apply_b_dec_to_input]).toEqual([2, false, true]);
    }
  });

  it('writes float32 tensors of SAELens shapes and sparsity.safetensors', () => {
    const sparsity = Float32Array.from([-1, -2, -10, -0.5]);
    const files = encodeSaelens(tinySae('standard'), sparsity);
    expect(Object.keys(files).sort()).toEqual(['cfg.json', 'sae_weights.safetensors', 'sparsity.safetensors']);
    const w = readSafetensorsTensors(files['sae_weights.safetensors']);
    expect([...w].map(([k, t]) => [k, t.dtype, t.shape])).toEqual([
      ['W_enc', 'F32', [3, 4]], ['b_enc', 'F32', [4]], ['W_dec', 'F32', [4, 3]], ['b_dec', 'F32', [3]],
    ]);
    const s = readSafetensorsTensors(files['sparsity.safetensors']).get('sparsity')!;
    expect([s.shape, [...s.data]]).toEqual([[4], [...sparsity]]);
  });

  it('refuses sparsity of the wrong length', () => {
    expect(() => encodeSaelens(tinySae('standard'), new Float32Array(3))).toThrow(
      'encodeSaelens: sparsity has 3 entries, the SAE has 4 features',
    );
  });

  it('refuses weights of the wrong size', () => {
    expect(() => encodeSaelens({ ...tinySae('standard'), b_dec: new Float32Array(2) }, undefined)).toThrow(
      'encodeSaelens: b_dec has 2 values, expected 3 (d=3, F=4)',
    );
  });
});

describe('decodeSaelens refuses', () => {
  const weights = () => encodeSaelens(tinySae('standard'), undefined)['sae_weights.safetensors'];
  const v6 = (over: Record<string, unknown>) =>
    JSON.stringify({ ...JSON.parse(readFileSync(join(FIXTURES, 'v6-standard', 'cfg.json'), 'utf8')), d_in: 3, d_sae: 4, ...over });
  const legacy = (over: Record<string, unknown>) =>
    JSON.stringify({ ...JSON.parse(readFileSync(join(FIXTURES, 'legacy-standard', 'cfg.json'), 'utf8')), d_in: 3, d_sae: 4, ...over });

  it('reads the legacy flat topk layout (activation_fn_kwargs.k)', () => {
    const sae = decodeSaelens(legacy({ activation_fn_str: 'topk', activation_fn_kwargs: { k: 2 } }), weights(), 'old');
    expect([sae.arch, sae.k]).toEqual(['topk', 2]);
  });

  it('legacy jumprelu and gated folders are read by their v6 architecture (and need its tensors)', () => {
    expect(() => decodeSaelens(legacy({ architecture: 'jumprelu' }), weights(), 'jr')).toThrow(
      "jr/sae_weights.safetensors: missing tensor 'threshold'",
    );
    expect(() => decodeSaelens(legacy({ architecture: 'gated' }), weights(), 'g')).toThrow("g/sae_weights.safetensors: missing tensor 'b_gate'");
  });

  it('an unknown legacy activation function', () => {
    expect(() => decodeSaelens(legacy({ activation_fn_str: 'tanh-relu' }), weights(), 'x')).toThrow(
      'x/cfg.json: activation function "tanh-relu" is not supported (supported: "relu", "topk")',
    );
  });

  it('topk without a usable k', () => {
    expect(() => decodeSaelens(v6({ architecture: 'topk' }), weights(), 'x')).toThrow(
      'x/cfg.json: a topk SAE needs an integer k in [1, d_sae=4], got undefined',
    );
    expect(() => decodeSaelens(legacy({ activation_fn_str: 'topk', activation_fn_kwargs: {} }), weights(), 'x')).toThrow(
      'x/cfg.json: a topk SAE needs an integer k',
    );
  });

  it('cfg.json that is not JSON', () => {
    expect(() => decodeSaelens('{"d_in": 3', weights(), 'x')).toThrow(/^x\/cfg.json: not valid JSON \(/);
  });

  it('a bad d_in', () => {
    expect(() => decodeSaelens(v6({ d_in: 'big' }), weights(), 'x')).toThrow(
      `x/cfg.json: 'd_in' must be a positive integer, got "big"`,
    );
  });

  it('a missing tensor', () => {
    const t = tinySae('standard');
    const partial = encodeSafetensors({ W_enc: { shape: [3, 4], data: t.W_enc }, b_enc: { shape: [4], data: t.b_enc } });
    expect(() => decodeSaelens(v6({}), partial, 'x')).toThrow(
      "x/sae_weights.safetensors: missing tensor 'W_dec'; the file has: W_enc, b_enc",
    );
  });

  it('a tensor whose shape disagrees with cfg.json', () => {
    expect(() => decodeSaelens(v6({ d_sae: 2, d_in: 6 }), weights(), 'x')).toThrow(
      "x/sae_weights.safetensors: tensor 'W_enc' has shape [3, 4] but cfg.json implies [6, 2]",
    );
  });
});
