// sae-lab encode: an SAE's feature activations and reconstructions as .npy, the way other tools check our
// loading. Checked on a folder SAELens saved with rescale_acts_by_decoder_norm (its TopK default) against
// SAELens's own outputs; a form not loaded yet and a weight that is not finite are refused in one line, and
// nothing is written.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openNpy } from '../../src/data/formats/npy.ts';
import { decodeSaelens, encodeSaelens } from '../../src/data/formats/saelens.ts';
import { memorySource } from '../../src/data/memory-source.ts';
import { expectRefused, runCli } from '../support/cli.ts';

const ROOT = resolve(__dirname, '../../../shared/fixtures/saelens6');
const dir = mkdtempSync(join(tmpdir(), 'sae-lab-encode-'));
const cli = (...args: string[]) => runCli(dir, ...args);

async function npy(path: string): Promise<{ data: Float32Array; rows: number; d: number }> {
  const src = await openNpy(memorySource(new Uint8Array(readFileSync(path)), path));
  return { data: await src.readRows(0, src.rows), rows: src.rows, d: src.d };
}

describe.skipIf(!existsSync(ROOT))('sae-lab encode', () => {
  it("writes SAELens's feature activations and reconstruction for a TopK SAE saved with rescale_acts_by_decoder_norm", async () => {
    const sae = join(ROOT, 'inference/topk-rescale-by-decoder-norm');
    const r = cli('encode', '--sae', sae, '--data', join(ROOT, 'inputs.npy'), '--out', 'enc');
    expect(r.code, r.stderr).toBe(0);
    for (const [file, want] of [['feature_acts.npy', 'expected_feature_acts.npy'], ['reconstruction.npy', 'expected_reconstruction.npy']]) {
      const got = await npy(join(dir, 'enc', file!));
      const exp = await npy(join(sae, want!));
      expect([got.rows, got.d]).toEqual([exp.rows, exp.d]);
      let worst = 0;
      for (let i = 0; i < exp.data.length; i++) worst = Math.max(worst, Math.abs(got.data[i]! - exp.data[i]!) / Math.max(1, Math.abs(exp.data[i]!)));
      expect(worst, file).toBeLessThan(1e-5);
    }
  });

  it('refuses a form it does not load yet and a weight that is not finite, writing nothing', () => {
    expectRefused(cli('encode', '--sae', join(ROOT, 'inference/jumprelu'), '--data', join(ROOT, 'inputs.npy'), '--out', 'jr'), 'cfg.json', 'architecture "jumprelu" is not supported yet');
    const std = join(ROOT, 'inference/standard');
    const sae = decodeSaelens(readFileSync(join(std, 'cfg.json'), 'utf8'), new Uint8Array(readFileSync(join(std, 'sae_weights.safetensors'))), 'standard');
    sae.W_dec[5 * sae.d + 3] = NaN;
    mkdirSync(join(dir, 'nan'));
    for (const [f, bytes] of Object.entries(encodeSaelens(sae, undefined))) writeFileSync(join(dir, 'nan', f), bytes);
    expectRefused(cli('encode', '--sae', 'nan', '--data', join(ROOT, 'inputs.npy'), '--out', 'nan-out'), "tensor 'W_dec' holds NaN at row 5, column 3");
    expect(existsSync(join(dir, 'jr')) || existsSync(join(dir, 'nan-out'))).toBe(false);
  });
});
