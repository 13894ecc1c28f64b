// SAEs trained elsewhere, in the page: SAELens folders written by an independent implementation load (as a
// .zip or as loose files) and evaluate on a stored dataset with the same metrics the CLI computes. Every form
// as a new user meets it: a JumpReLU SAE zip and a BatchTopK-trained one (saved by SAELens 6.18 itself as
// JumpReLU) imported, evaluated (the FVU the engine computes), their features opened; and a JumpReLU SAE
// trained from the form with its live views and export.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unzipSync, zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeSaelens } from '../../src/data/formats/saelens.ts';
import { openArrowShards } from '../../src/data/formats/arrow.ts';
import { encodeNpy } from '../../src/data/formats/npy.ts';
import { openNpy } from '../../src/data/formats/npy.ts';
import { memorySource } from '../../src/data/memory-source.ts';
import { SaeRunner } from '../../src/engine/evaluate.ts';
import { Rng } from '../../src/engine/random.ts';
import { openLab, screenshot, startLab, type Lab } from '../support/browser.ts';
import { getDevice } from '../support/gpu.ts';

const FIXTURES = join(import.meta.dirname, '../../../shared/fixtures/saelens');
const dir = mkdtempSync(join(tmpdir(), 'sae-lab-saes-'));
const FIXTURES6 = join(import.meta.dirname, '../../../shared/fixtures/saelens6/inference');
const ROWS = 2048;
const D = 32;
const rng = new Rng(9, 3);
const rows = Float32Array.from({ length: ROWS * D }, () => (rng.float() - 0.5) * 4);
let lab: Lab;
beforeAll(async () => {
  lab = await startLab();
}, 120_000);
afterAll(async () => lab?.close());

describe('SAELens SAEs and every architecture in the page', () => {
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
    await expect(topk.textContent()).resolves.toMatch(/topk k=4\s*32 × 64/);

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

  it('imports JumpReLU and BatchTopK-trained SAEs, evaluates them, opens their features; trains JumpReLU, BatchTopK and Matryoshka from the form', async () => {
    const page = await openLab(lab);
    const data = join(dir, 'acts32.npy');
    writeFileSync(data, encodeNpy(rows, [ROWS, D]));
    await page.locator('[data-testid=import-file]').setInputFiles(data);
    await page.locator('[data-testid=datasets] tbody tr', { hasText: 'acts32.npy' }).waitFor({ timeout: 60_000 });

    const folder = (name: string, f: string) => readFileSync(join(FIXTURES6, name, f));
    const zipPath = join(dir, 'jumprelu.zip');
    writeFileSync(zipPath, zipSync({ 'jumprelu/cfg.json': folder('jumprelu', 'cfg.json'), 'jumprelu/sae_weights.safetensors': folder('jumprelu', 'sae_weights.safetensors') }));
    await page.locator('[data-testid=import-sae]').setInputFiles(zipPath);
    const batchZip = join(dir, 'batchtopk-saved-as-jumprelu.zip');
    writeFileSync(batchZip, zipSync({
      'batchtopk-saved-as-jumprelu/cfg.json': folder('batchtopk-saved-as-jumprelu', 'cfg.json'),
      'batchtopk-saved-as-jumprelu/sae_weights.safetensors': folder('batchtopk-saved-as-jumprelu', 'sae_weights.safetensors'),
    }));
    await page.locator('[data-testid=import-sae]').setInputFiles(batchZip);
    const device = await getDevice();
    for (const name of ['jumprelu', 'batchtopk-saved-as-jumprelu']) {
      const row = page.locator('[data-testid=saes] tbody tr').filter({ has: page.locator('td:first-child', { hasText: new RegExp(`^${name}$`) }) });
      await row.waitFor();
      await expect(row.textContent()).resolves.toMatch(/jumprelu\s*32 × 96/);
      await row.locator('select[name=dataset]').selectOption({ label: 'acts32.npy' });
      await row.locator('select[name=rows]').selectOption('all');
      await row.locator('[data-testid=evaluate]').click();
      await row.locator('[data-testid=evaluation]', { hasText: 'FVU' }).waitFor({ timeout: 60_000 });
      const shown = Number(/FVU ([\d.]+)/.exec((await row.locator('[data-testid=evaluation]').textContent())!)![1]);
      const sae = decodeSaelens(folder(name, 'cfg.json').toString('utf8'), new Uint8Array(folder(name, 'sae_weights.safetensors')), name);
      const runner = new SaeRunner(device, sae);
      const want = await runner.evaluate([rows]);
      runner.destroy();
      expect(shown).toBeCloseTo(want.fvu!, 4);
    }
    await screenshot(page, 'archs-imported');

    // the features of the BatchTopK-trained SAE: statistics on the held-out rows, the table, a card
    const choice = await page.evaluate(() => document.querySelector('sae-app')!.session.saeChoices().find((c) => c.label.includes('batchtopk'))!.value);
    await page.locator('[data-testid=features-sae]').selectOption({ value: choice });
    await page.locator('sae-features-panel select[name=dataset]').selectOption({ label: 'acts32.npy' });
    await page.locator('[data-testid=features-compute]').click();
    const table = page.locator('[data-testid=features-table]');
    await table.waitFor({ timeout: 120_000 });
    expect(Number(await table.getAttribute('data-rows'))).toBeGreaterThan(10);
    await table.locator('tbody tr').first().click();
    const card = page.locator('[data-testid=feature-card]');
    await card.waitFor({ timeout: 60_000 });
    expect(await card.locator('.example').count()).toBeGreaterThan(0);
    await card.scrollIntoViewIfNeeded();
    await screenshot(page, 'archs-batchtopk-features');

    // JumpReLU trained from the form (its preset), with the live views and a SAELens export
    const form = page.locator('[data-testid=run-form]');
    await form.locator('select[name=dataset]').selectOption({ label: `acts32.npy (${ROWS}×${D})` });
    await form.locator('select').nth(1).selectOption('quick (JumpReLU, tanh)');
    await expect(form.locator('select[name=arch]').inputValue()).resolves.toBe('jumprelu');
    await expect(form.locator('select[name=jumpMode]').inputValue()).resolves.toBe('tanh');
    for (const [name, value] of Object.entries({ features: '64', batch: '64', steps: '60' })) await form.locator(`input[name=${name}]`).fill(value);
    await page.locator('[data-testid=start]').click();
    await page.locator('[data-testid=run-status][data-status=done]').waitFor({ timeout: 180_000 });
    const run = page.locator('[data-testid=runs] tbody tr').first();
    await expect(run.textContent()).resolves.toContain('jumprelu');
    await page.locator('[data-testid=density-chart]').scrollIntoViewIfNeeded();
    await screenshot(page, 'archs-jumprelu-trained');
    const [download] = await Promise.all([page.waitForEvent('download'), run.locator('[data-testid=export-sae]').click()]);
    const zipped = unzipSync(new Uint8Array(readFileSync((await download.path())!)));
    const cfgName = Object.keys(zipped).find((k) => k.endsWith('cfg.json'))!;
    const cfg = JSON.parse(new TextDecoder().decode(zipped[cfgName]));
    expect([cfg.architecture, cfg.apply_b_dec_to_input]).toEqual(['jumprelu', false]);
    const sae = decodeSaelens(new TextDecoder().decode(zipped[cfgName]), zipped[cfgName.replace('cfg.json', 'sae_weights.safetensors')]!, 'exported');
    expect(sae.threshold!.length).toBe(64);
    expect(sae.threshold!.some((t) => Math.abs(t - 0.5) > 1e-4), 'the thresholds moved').toBe(true);

    // BatchTopK and Matryoshka BatchTopK from their presets (Matryoshka with a nesting typed in): each is
    // exported as the JumpReLU SAE SAELens saves, one batch threshold for every feature
    for (const [preset, arch, widths] of [['quick (BatchTopK)', 'batchtopk', ''], ['quick (Matryoshka BatchTopK)', 'matryoshka', '8,24,64']] as const) {
      await form.locator('select').nth(1).selectOption(preset);
      await expect(form.locator('select[name=arch]').inputValue()).resolves.toBe(arch);
      for (const [name, value] of Object.entries({ features: '64', batch: '64', steps: '40' })) await form.locator(`input[name=${name}]`).fill(value);
      // the form shows each variant's own fields: widths for Matryoshka alone
      await expect(form.locator('input[name=widths]').isVisible()).resolves.toBe(arch === 'matryoshka');
      await expect(form.locator('input[name=l0]').isVisible()).resolves.toBe(false);
      if (widths) await form.locator('input[name=widths]').fill(widths);
      await page.locator('[data-testid=start]').click();
      const latest = page.locator('[data-testid=runs] tbody tr').filter({ has: page.locator('td:nth-child(3)', { hasText: new RegExp(`^${arch}$`) }) });
      await expect.poll(() => latest.getAttribute('data-status'), { timeout: 180_000 }).toBe('done');
      await page.locator('[data-testid=density-chart]').scrollIntoViewIfNeeded();
      await screenshot(page, `archs-${arch}-trained`);
      const [got] = await Promise.all([page.waitForEvent('download'), latest.locator('[data-testid=export-sae]').click()]);
      const files = unzipSync(new Uint8Array(readFileSync((await got.path())!)));
      const name = Object.keys(files).find((k) => k.endsWith('cfg.json'))!;
      const trained = decodeSaelens(new TextDecoder().decode(files[name]), files[name.replace('cfg.json', 'sae_weights.safetensors')]!, 'exported');
      expect([trained.arch, trained.applyBDecToInput, trained.threshold!.length]).toEqual(['jumprelu', true, 64]);
      expect(trained.threshold![0]).toBeGreaterThan(0);
      expect(new Set(trained.threshold!).size, 'one threshold for every feature').toBe(1);
    }

    // the Matryoshka run handed over to SAELens: its dataset as an activation cache, row for row, the weights
    // in SAELens's training form, the runner config with the keys SAELens writes
    const matryoshka = page.locator('[data-testid=runs] tbody tr').filter({ has: page.locator('td:nth-child(3)', { hasText: /^matryoshka$/ }) });
    const [handed] = await Promise.all([page.waitForEvent('download'), matryoshka.locator('[data-testid=export-scale]').click()]);
    const handover = unzipSync(new Uint8Array(readFileSync((await handed.path())!)));
    const at = (suffix: string) => Object.keys(handover).find((k) => k.endsWith(suffix))!;
    const cacheFiles = Object.keys(handover).filter((k) => k.includes('/cache/')).map((k) => ({ name: k, source: memorySource(handover[k]!, k) }));
    const cache = await openArrowShards(cacheFiles);
    expect([cache.rows, cache.d]).toEqual([ROWS, D]);
    expect(Array.from(await cache.readRows(0, ROWS))).toEqual(Array.from(rows));
    const startCfg = JSON.parse(new TextDecoder().decode(handover[at('sae/cfg.json')]));
    expect([startCfg.architecture, startCfg.matryoshka_widths]).toEqual(['matryoshka_batchtopk', [8, 24, 64]]);
    const runner = JSON.parse(new TextDecoder().decode(handover[at('runner-config.json')]));
    const theirs = JSON.parse(readFileSync(join(FIXTURES6, '../runner-configs/topk-from-cache.json'), 'utf8'));
    expect(Object.keys(runner)).toEqual(Object.keys(theirs));
    for (const f of ['train_sae.py', 'README.md', 'lab-run.json']) expect(at(f), f).toBeDefined();
    await page.close();
  });
});
