// SAELens SAEs written by an independent implementation: the engine's GPU encoder and decoder must
// reproduce their feature activations and reconstructions (relative error < 1e-5).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'vitest';
import { SaeRunner } from '../../src/engine/evaluate.ts';
import { decodeSaelens } from '../../src/data/formats/saelens.ts';
import { openNpy } from '../../src/data/formats/npy.ts';
import { memorySource } from '../../src/data/memory-source.ts';
import { expectClose, getDevice } from '../support/gpu.ts';

const FIXTURES = join(import.meta.dirname, '../../../shared/fixtures/saelens');

async function readNpy(path: string): Promise<Float32Array> {
  const src = await openNpy(memorySource(new Uint8Array(readFileSync(path)), path));
  return src.readRows(0, src.rows);
}

describe('SAELens fixtures on the GPU', () => {
  for (const folder of ['v6-standard', 'v6-topk', 'legacy-standard']) {
    it(folder, async () => {
      const device = await getDevice();
      const dir = join(FIXTURES, folder);
      const sae = decodeSaelens(readFileSync(join(dir, 'cfg.json'), 'utf8'), new Uint8Array(readFileSync(join(dir, 'sae_weights.safetensors'))), folder);
      const inputs = await readNpy(join(FIXTURES, 'inputs.npy'));
      const runner = new SaeRunner(device, sae, 64);
      const { acts, recon } = await runner.forward(inputs);
      runner.destroy();
      expectClose(acts, await readNpy(join(dir, 'expected_feature_acts.npy')), 1e-5, 'feature activations');
      expectClose(recon, await readNpy(join(dir, 'expected_reconstruction.npy')), 1e-5, 'reconstruction');
    });
  }
});
