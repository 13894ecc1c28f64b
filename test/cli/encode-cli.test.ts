// sae-lab encode: an SAE's feature activations and reconstructions as .npy, the way other tools check our
// loading. Checked on folders SAELens saved (TopK with rescale_acts_by_decoder_norm, its default; Gated;
// layer_norm) against SAELens's own outputs, and on a skip transcoder (N × d_out, evaluated against --target);
// an unknown architecture and a weight that is not finite are refused in one line, and nothing is written.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeNpy, openNpy } from '../../src/data/formats/npy.ts';
import { decodeSaelens, encodeSaelens } from '../../src/data/formats/saelens.ts';
import { memorySource } from '../../src/data/memory-source.ts';
import { Rng } from '../../src/engine/random.ts';
import type { SaeWeights } from '../../src/engine/sae.ts';
import { saeActivations64, saeDecode64 } from '../../src/reference/sae-forward.ts';
import { expectRefused, runCli, runCliAsync } from '../support/cli.ts';

const ROOT = resolve(__dirname, '../../../shared/fixtures/saelens6');
const dir = mkdtempSync(join(tmpdir(), 'sae-lab-encode-'));
const cli = (...args: string[]) => runCli(dir, ...args);

async function npy(path: string): Promise<{ data: Float32Array; rows: number; d: number }> {
  const src = await openNpy(memorySource(new Uint8Array(readFileSync(path)), path));
  return { data: await src.readRows(0, src.rows), rows: src.rows, d: src.d };
}

function expectClose(got: Float32Array, want: ArrayLike<number>, what: string): void {
  expect(got.length, what).toBe(want.length);
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!) / Math.max(1, Math.abs(want[i]!)));
  expect(worst, what).toBeLessThan(1e-5);
}

describe.skipIf(!existsSync(ROOT))('sae-lab encode', () => {
  it("writes SAELens's feature activations and reconstruction for the folders SAELens saved (TopK with rescale, Gated, layer_norm)", async () => {
    const forms = ['topk-rescale-by-decoder-norm', 'gated', 'standard-layer-norm'];
    // one process each, side by side
    const runs = await Promise.all(forms.map((form) => runCliAsync(dir, 'encode', '--sae', join(ROOT, 'inference', form), '--data', join(ROOT, 'inputs.npy'), '--out', form)));
    for (const [n, form] of forms.entries()) {
      expect(runs[n]!.code, runs[n]!.stderr).toBe(0);
      for (const [file, want] of [['feature_acts.npy', 'expected_feature_acts.npy'], ['reconstruction.npy', 'expected_reconstruction.npy']]) {
        const got = await npy(join(dir, form, file!));
        const exp = await npy(join(ROOT, 'inference', form, want!));
        expect([got.rows, got.d]).toEqual([exp.rows, exp.d]);
        expectClose(got.data, exp.data, `${form} ${file}`);
      }
    }
  });

  it('a skip transcoder: reconstruction.npy is N × d_out, and eval compares it with --target', async () => {
    const d = 32, F = 40, dOut = 12, N = 128;
    const rng = new Rng(4, 1);
    const n = (len: number, s: number) => Float32Array.from({ length: len }, () => (rng.float() - 0.5) * s);
    const tc: SaeWeights = {
      arch: 'standard', d, features: F, dOut, applyBDecToInput: false, metadata: {},
      W_enc: n(d * F, 0.5), b_enc: n(F, 0.2), W_dec: n(F * dOut, 0.5), b_dec: n(dOut, 0.1), W_skip: n(dOut * d, 0.2),
    };
    mkdirSync(join(dir, 'tc'));
    for (const [f, bytes] of Object.entries(encodeSaelens(tc, undefined))) writeFileSync(join(dir, 'tc', f), bytes);
    const x = (await npy(join(ROOT, 'inputs.npy'))).data;
    const y = n(N * dOut, 2);
    writeFileSync(join(dir, 'y.npy'), encodeNpy(y, [N, dOut]));
    const r = cli('encode', '--sae', 'tc', '--data', join(ROOT, 'inputs.npy'), '--out', 'tc-out');
    expect(r.code, r.stderr).toBe(0);
    const recon = await npy(join(dir, 'tc-out', 'reconstruction.npy'));
    expect([recon.rows, recon.d]).toEqual([N, dOut]);
    const want = saeDecode64(tc, saeActivations64(tc, x), x);
    expectClose(recon.data, want, 'transcoder reconstruction');
    const e = cli('eval', '--sae', 'tc', '--data', join(ROOT, 'inputs.npy'), '--target', 'y.npy', '--rows', 'all');
    expect(e.code, e.stderr).toBe(0);
    let sq = 0;
    for (let i = 0; i < y.length; i++) sq += (y[i]! - want[i]!) ** 2;
    expect(JSON.parse(e.stdout).mse_per_token).toBeCloseTo(sq / N, 3);
    expectRefused(cli('eval', '--sae', 'tc', '--data', join(ROOT, 'inputs.npy'), '--rows', 'all'), 'a transcoder is evaluated against the activation it writes');
  });

  it('refuses an unknown architecture and a weight that is not finite, writing nothing', () => {
    const std = join(ROOT, 'inference/standard');
    mkdirSync(join(dir, 'odd'));
    writeFileSync(join(dir, 'odd', 'cfg.json'), readFileSync(join(std, 'cfg.json'), 'utf8').replace('"standard"', '"crosscoder"'));
    writeFileSync(join(dir, 'odd', 'sae_weights.safetensors'), readFileSync(join(std, 'sae_weights.safetensors')));
    expectRefused(cli('encode', '--sae', 'odd', '--data', join(ROOT, 'inputs.npy'), '--out', 'odd-out'), 'cfg.json', 'architecture "crosscoder" is not one SAELens saves');
    const sae = decodeSaelens(readFileSync(join(std, 'cfg.json'), 'utf8'), new Uint8Array(readFileSync(join(std, 'sae_weights.safetensors'))), 'standard');
    sae.W_dec[5 * sae.d + 3] = NaN;
    mkdirSync(join(dir, 'nan'));
    for (const [f, bytes] of Object.entries(encodeSaelens(sae, undefined))) writeFileSync(join(dir, 'nan', f), bytes);
    expectRefused(cli('encode', '--sae', 'nan', '--data', join(ROOT, 'inputs.npy'), '--out', 'nan-out'), "tensor 'W_dec' holds NaN at row 5, column 3");
    expect(existsSync(join(dir, 'odd-out')) || existsSync(join(dir, 'nan-out'))).toBe(false);
  });
});
