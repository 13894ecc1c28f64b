// Training in the page: a dataset imported through the file input trains in the GPU worker (real WebGPU
// on SwiftShader); the step count rises to the end and the loss falls — values read from the page's state.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeNpy } from '../../src/data/formats/npy.ts';
import { generateSynthetic } from '../../src/data/synth.ts';
import { openLab, screenshot, startLab, type Lab } from '../support/browser.ts';

let lab: Lab;
beforeAll(async () => {
  lab = await startLab();
}, 120_000);
afterAll(async () => lab?.close());

describe('training in the browser', () => {
  it('trains a stored dataset in the GPU worker; the loss falls', async () => {
    const page = await openLab(lab);
    const path = join(mkdtempSync(join(tmpdir(), 'sae-lab-train-')), 'toy.npy');
    writeFileSync(path, encodeNpy(generateSynthetic({ d: 16, features: 48, rows: 4096, seed: 2 }).data, [4096, 16]));
    await page.locator('[data-testid=import-file]').setInputFiles(path);
    await page.locator('[data-testid=datasets] tbody tr', { hasText: 'toy.npy' }).waitFor({ timeout: 60_000 });
    const form = page.locator('[data-testid=run-form]');
    await form.locator('select[name=dataset]').selectOption({ label: 'toy.npy (4096×16)' });
    for (const [name, value] of Object.entries({ features: '64', k: '3', lr: '0.01', batch: '64', steps: '150' })) {
      await form.locator(`input[name=${name}]`).fill(value);
    }
    await page.locator('[data-testid=start]').click();
    await page.locator('[data-testid=run-status][data-status=running]').waitFor();
    await page.locator('[data-testid=run-status][data-status=done]').waitFor({ timeout: 120_000 });
    const run = await page.evaluate(() => {
      const r = document.querySelector('sae-app')!.session.run!;
      return { step: r.step, steps: r.history.map((h) => h.step), loss: r.history.map((h) => h.loss) };
    });
    expect(run.step).toBe(150);
    expect(run.steps).toEqual([...Array(150).keys()]);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(run.loss.slice(-15))).toBeLessThan(0.8 * mean(run.loss.slice(0, 15)));
    // the chart drew every step (uPlot's data, as the element holds it)
    await page.waitForFunction(() => {
      const chart = document.querySelector('sae-app')!.shadowRoot!.querySelector('sae-run-panel')!.shadowRoot!.querySelector('sae-loss-chart')!;
      return (chart as unknown as { plot?: { data: number[][] } }).plot?.data[0]?.length === 150;
    });
    await screenshot(page, 'training-done');
    await page.close();
  });
});
