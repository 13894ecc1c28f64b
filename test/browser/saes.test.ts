// SAEs trained elsewhere, in the page: SAELens folders written by an independent implementation load (as a
// .zip or as loose files) and evaluate on a stored dataset with the same metrics the CLI computes.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeSaelens } from '../../src/data/formats/saelens.ts';
import { openNpy } from '../../src/data/formats/npy.ts';
import { memorySource } from '../../src/data/memory-source.ts';
import { SaeRunner } from '../../src/engine/evaluate.ts';
import { openLab, screenshot, startLab, type Lab } from '../support/browser.ts';
import { getDevice } from '../support/gpu.ts';

const FIXTURES = join(import.meta.dirname, '../../../shared/fixtures/saelens');
const dir = mkdtempSync(join(tmpdir(), 'sae-lab-saes-'));
let lab: Lab;
beforeAll(async () => {
  lab = await startLab();
}, 120_000);
afterAll(async () => lab?.close());

describe('SAELens SAEs in the page', () => {
  it('imports a zipped and a loose SAELens folder and evaluates one like the CLI does', async () => {
    const page = await openLab(lab);
    await page.locator('[data-testid=import-file]').setInputFiles(join(FIXTURES, 'inputs.npy'));
    await page.locator('[data-testid=datasets] tbody tr', { hasText: 'inputs.npy' }).waitFor({ timeout: 60_000 });

    const zipPath = join(dir, 'v6-topk.zip');
    const folder = (f: string) => readFileSync(join(FIXTURES, 'v6-topk', f));
    writeFileSync(zipPath, zipSync({ 'v6-topk/cfg.json': folder('cfg.json'), 'v6-topk/sae_weights.safetensors': folder('sae_weights.safetensors') }));
    await page.locator('[data-testid=import-sae]').setInputFiles(zipPath);
    const topk = page.locator('[data-testid=saes] tbody tr', { hasText: 'v6-topk' });
    await topk.waitFor();
    await expect(topk.textContent()).resolves.toMatch(/topk\s*32 × 64/);

    await page.locator('[data-testid=import-sae]').setInputFiles([join(FIXTURES, 'legacy-standard', 'cfg.json'), join(FIXTURES, 'legacy-standard', 'sae_weights.safetensors')]);
    await page.locator('[data-testid=saes] tbody tr', { hasText: 'fixture-model blocks.0.hook_resid_post' }).waitFor();

    await topk.locator('select[name=rows]').selectOption('all');
    await topk.locator('[data-testid=evaluate]').click();
    await topk.locator('[data-testid=evaluation]', { hasText: 'FVU' }).waitFor({ timeout: 60_000 });
    const shown = Number(/FVU ([\d.]+)/.exec((await topk.locator('[data-testid=evaluation]').textContent())!)![1]);

    const sae = decodeSaelens(folder('cfg.json').toString('utf8'), new Uint8Array(folder('sae_weights.safetensors')), 'v6-topk');
    const inputs = await openNpy(memorySource(new Uint8Array(readFileSync(join(FIXTURES, 'inputs.npy'))), 'inputs.npy'));
    const runner = new SaeRunner(await getDevice(), sae);
    const expected = await runner.evaluate([await inputs.readRows(0, inputs.rows)]);
    runner.destroy();
    expect(shown).toBeCloseTo(expected.fvu!, 4);
    await screenshot(page, 'saes-evaluated');
    await page.close();
  });
});
