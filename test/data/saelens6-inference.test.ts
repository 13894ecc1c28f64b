// Folders saved by SAELens 6.18 itself (../shared/fixtures/saelens6/inference/), with SAELens's own encode and
// decode of inputs.npy: every form this project loads reproduces both on the GPU (relative error < 1e-5, as
// the fixtures ask), and so does the float64 reference (src/reference/sae-forward.ts).
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openNpy } from '../../src/data/formats/npy.ts';
import { decodeSaelens } from '../../src/data/formats/saelens.ts';
import { memorySource } from '../../src/data/memory-source.ts';
import { SaeRunner } from '../../src/engine/evaluate.ts';
import { saeActivations64, saeDecode64 } from '../../src/reference/sae-forward.ts';
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

describe.skipIf(!existsSync(ROOT))('SAELens 6.18 inference folders', () => {
  it('every folder the fixtures hold loads', () => {
    expect(readdirSync(join(ROOT, 'inference')).length).toBeGreaterThanOrEqual(10);
  });

  for (const name of existsSync(ROOT) ? readdirSync(join(ROOT, 'inference')).sort() : []) {
    it(`${name}: SAELens's feature activations and reconstruction, on the GPU and in float64`, async () => {
      const dir = join(ROOT, 'inference', name);
      const sae = decodeSaelens(readFileSync(join(dir, 'cfg.json'), 'utf8'), new Uint8Array(readFileSync(join(dir, 'sae_weights.safetensors'))), name);
      const x = await npy(join(ROOT, 'inputs.npy'));
      const wantActs = await npy(join(dir, 'expected_feature_acts.npy'));
      const wantRecon = await npy(join(dir, 'expected_reconstruction.npy'));
      const f64 = saeActivations64(sae, x);
      expectClose(Float32Array.from(f64), wantActs, `${name} float64 feature_acts`);
      expectClose(Float32Array.from(saeDecode64(sae, f64, x)), wantRecon, `${name} float64 reconstruction`);
      const runner = new SaeRunner(await getDevice(), sae, 64);
      try {
        const out = await runner.forward(x);
        expectClose(out.acts, wantActs, `${name} feature_acts`);
        expectClose(out.recon, wantRecon, `${name} reconstruction`);
      } finally {
        runner.destroy();
      }
    });
  }
});
