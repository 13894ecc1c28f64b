// Folders saved by SAELens 6.18 itself (../shared/fixtures/saelens6/inference/), with SAELens's own encode and
// decode of inputs.npy: every form this project loads reproduces both on the GPU (relative error < 1e-5, as
// the fixtures ask); every form it does not load yet is refused naming the key and its value.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openNpy } from '../../src/data/formats/npy.ts';
import { decodeSaelens } from '../../src/data/formats/saelens.ts';
import { memorySource } from '../../src/data/memory-source.ts';
import { SaeRunner } from '../../src/engine/evaluate.ts';
import { getDevice } from '../support/gpu.ts';

const ROOT = resolve(__dirname, '../../../shared/fixtures/saelens6');

async function npy(path: string): Promise<Float32Array> {
  const src = await openNpy(memorySource(new Uint8Array(readFileSync(path)), path));
  return src.readRows(0, src.rows);
}

function expectClose(got: Float32Array, want: Float32Array, what: string): void {
  expect(got.length, what).toBe(want.length);
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!) / Math.max(1, Math.abs(want[i]!)));
  expect(worst, what).toBeLessThan(1e-5);
}

/** what loads today, and for the rest the words its refusal must hold */
const FORMS: Record<string, 'loads' | string> = {
  standard: 'loads',
  'standard-apply-b-dec': 'loads',
  topk: 'loads',
  'topk-rescale-by-decoder-norm': 'loads',
  jumprelu: 'architecture "jumprelu" is not supported yet',
  gated: 'architecture "gated" is not supported yet',
  'batchtopk-saved-as-jumprelu': 'architecture "jumprelu" is not supported yet',
  'matryoshka-saved-as-jumprelu': 'architecture "jumprelu" is not supported yet',
  'standard-constant-norm-rescale': 'normalize_activations "constant_norm_rescale" is not supported',
  'standard-layer-norm': 'normalize_activations "layer_norm" is not supported',
};

describe.skipIf(!existsSync(ROOT))('SAELens 6.18 inference folders', () => {
  it('names every folder the fixtures hold', () => {
    expect(readdirSync(join(ROOT, 'inference')).sort()).toEqual(Object.keys(FORMS).sort());
  });

  for (const [name, expected] of Object.entries(FORMS)) {
    it(`${name}: ${expected === 'loads' ? "SAELens's feature activations and reconstruction" : 'refused, naming the key'}`, async () => {
      const dir = join(ROOT, 'inference', name);
      const load = () => decodeSaelens(readFileSync(join(dir, 'cfg.json'), 'utf8'), new Uint8Array(readFileSync(join(dir, 'sae_weights.safetensors'))), name);
      if (expected !== 'loads') {
        expect(load).toThrow(expected);
        return;
      }
      const sae = load();
      const runner = new SaeRunner(await getDevice(), sae, 64);
      try {
        const out = await runner.forward(await npy(join(ROOT, 'inputs.npy')));
        expectClose(out.acts, await npy(join(dir, 'expected_feature_acts.npy')), `${name} feature_acts`);
        expectClose(out.recon, await npy(join(dir, 'expected_reconstruction.npy')), `${name} reconstruction`);
      } finally {
        runner.destroy();
      }
    });
  }
});
