// The dataset panel in real headless Chromium: a file imported through the page's file input survives a
// reload intact; a page closed mid-import (its worker killed with no chance to clean up) leaves no trace
// once the lab starts again.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeNpy } from '../../src/data/formats/npy.ts';
import { openLab, screenshot, startLab, storedRecords, type Lab } from '../support/browser.ts';

const dir = mkdtempSync(join(tmpdir(), 'sae-lab-browser-'));
let lab: Lab;

beforeAll(async () => {
  lab = await startLab();
}, 120_000);
afterAll(async () => lab?.close());

function npyFile(name: string, rows: number, d: number): string {
  const data = Float32Array.from({ length: rows * d }, (_, i) => Math.sin(i * 0.37) * (1 + (i % 7)));
  const path = join(dir, name);
  writeFileSync(path, encodeNpy(data, [rows, d]));
  return path;
}

describe('datasets in the browser', () => {
  it('imports through the file input and is intact after a reload', async () => {
    const page = await openLab(lab);
    await screenshot(page, 'datasets-empty');
    await page.locator('[data-testid=import-file]').setInputFiles(npyFile('acts.npy', 3000, 16));
    const row = page.locator('[data-testid=datasets] tbody tr', { hasText: 'acts.npy' });
    await row.waitFor({ timeout: 60_000 });
    await expect(page.locator('[data-testid=message]').textContent()).resolves.toContain('Imported acts.npy: 3000 rows × 16');
    await screenshot(page, 'datasets-imported');
    await page.reload();
    await page.locator('[data-testid=datasets] tbody tr', { hasText: 'acts.npy' }).waitFor();
    await expect(page.locator('[data-testid=datasets] tbody tr', { hasText: 'acts.npy' }).textContent()).resolves.toContain('3,000 × 16');
    const stored = await storedRecords(page);
    expect(stored.datasets).toEqual([{ name: 'acts.npy', status: 'complete', rows: 3000 }]);
    expect(stored.chunks).toBeGreaterThan(0);
    await page.close();
  });

  it('the toy demo dataset is made with one click', async () => {
    const page = await openLab(lab);
    await page.locator('[data-testid=demo-toy]').click();
    const row = page.locator('[data-testid=datasets] tbody tr', { hasText: 'toy superposition' });
    await row.waitFor({ timeout: 60_000 });
    await expect(row.textContent()).resolves.toContain('32,768 × 64');
    await screenshot(page, 'datasets-toy-demo');
    await page.close();
  });

  it('the real-model demo harvests the Brown corpus in the page and stores it with token context', async () => {
    const page = await openLab(lab);
    const before = await storedRecords(page);
    await page.locator('[data-testid=demo-brown]').click();
    const row = page.locator('[data-testid=datasets] tbody tr', { hasText: 'Brown corpus' });
    await row.waitFor({ timeout: 120_000 });
    await expect(row.textContent()).resolves.toContain('20,000 × 512');
    await expect(page.locator('[data-testid=message]').textContent()).resolves.toMatch(/Harvested at [\d,]+ tokens\/s from \d+ Brown documents/);
    const after = await storedRecords(page);
    expect(after.context).toBeGreaterThan(before.context); // pieces and POS tags stored beside the rows
    await screenshot(page, 'datasets-brown-demo');
    await page.close();
  });

  it('a page closed mid-import leaves nothing behind', async () => {
    const page = await openLab(lab);
    const before = await storedRecords(page);
    // ~96 MiB: many 4 MiB chunks, so the crash lands between chunk writes
    await page.locator('[data-testid=import-file]').setInputFiles(npyFile('big.npy', 393_216, 64));
    await page.locator('[data-testid=import-progress]').waitFor();
    await page.waitForFunction(() => {
      const bar = document.querySelector('sae-app')?.shadowRoot?.querySelector('sae-data-panel')?.shadowRoot?.querySelector('progress');
      return bar !== null && bar !== undefined && bar.value > 0;
    });
    const mid = await storedRecords(page);
    expect(mid.datasets.some((d) => d.name === 'big.npy' && d.status === 'pending')).toBe(true);
    await page.close({ runBeforeUnload: false }); // the tab goes away: its worker dies mid-write
    const again = await openLab(lab);
    const after = await storedRecords(again);
    expect(after).toEqual(before);
    await screenshot(again, 'datasets-after-killed-import');
    await again.close();
  });
});
