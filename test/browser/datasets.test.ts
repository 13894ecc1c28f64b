// The dataset panel in real headless Chromium: a file imported through the page's file input survives a
// reload intact; a page closed mid-import (its worker killed with no chance to clean up) leaves no trace
// once the lab starts again.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeNpy } from '../../src/data/formats/npy.ts';
import { encodeSidecar } from '../../src/data/formats/sidecar.ts';
import { emptyContext } from '../../src/data/context.ts';
import { makeCache } from '../support/arrow-cache.ts';
import type { Page } from 'playwright-core';
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

/** a sidecar for `rows` rows in documents of 300 rows */
function sidecarFile(name: string, rows: number): string {
  const ctx = emptyContext(rows);
  ctx.strings = ['▁a', '▁b', '.'];
  for (let r = 0; r < rows; r++) [ctx.doc[r], ctx.sentence[r], ctx.pos[r], ctx.token[r]] = [Math.floor(r / 300), Math.floor(r / 10), r % 10, r % 3];
  const path = join(dir, name);
  writeFileSync(path, encodeSidecar(ctx));
  return path;
}

/** the held-out cell of a dataset's row */
const heldOutOf = (page: Page, name: string) => page.locator('[data-testid=datasets] tbody tr', { hasText: name }).locator('[data-testid=held-out]').textContent();

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

  it('imports an .npy with its token sidecar, held out by document', async () => {
    const page = await openLab(lab);
    const before = await storedRecords(page);
    await page.locator('[data-testid=import-file]').setInputFiles([npyFile('withdocs.npy', 3000, 8), sidecarFile('withdocs.tokens.jsonl', 3000)]);
    await page.locator('[data-testid=datasets] tbody tr', { hasText: 'withdocs.npy' }).waitFor({ timeout: 60_000 });
    await expect(heldOutOf(page, 'withdocs.npy')).resolves.toBe('document');
    expect((await storedRecords(page)).context).toBe(before.context + 2); // the header and one part
    // a sidecar of the wrong length is refused, naming it, and nothing is stored
    await page.locator('[data-testid=import-file]').setInputFiles([npyFile('short.npy', 2000, 8), sidecarFile('short.tokens.jsonl', 1999)]);
    await expect(page.locator('[data-testid=message].error').textContent()).resolves.toMatch(/short\.tokens\.jsonl: has 1999 rows but the activation file has 2000/);
    expect((await storedRecords(page)).datasets.some((d) => d.name === 'short.npy')).toBe(false);
    await page.close();
  });

  it('imports a SAELens Arrow cache (its shards and JSON files), held out by context', async () => {
    const cache = makeCache({ dtype: 'float16', ctx: 64, d: 16, shards: [[10, 6], [8]] });
    const folder = mkdtempSync(join(dir, 'cache-'));
    const paths = await Promise.all(
      cache.files.map(async (f) => {
        const path = join(folder, f.name.split('/').pop()!);
        writeFileSync(path, await f.source.read(0, f.source.size));
        return path;
      }),
    );
    const page = await openLab(lab);
    await page.locator('[data-testid=import-file]').setInputFiles(paths);
    const row = page.locator('[data-testid=datasets] tbody tr', { hasText: 'blocks.0.hook_mlp_out (2 shards)' });
    await row.waitFor({ timeout: 60_000 });
    await expect(row.textContent()).resolves.toMatch(/1,536 × 16\s*float16/);
    await expect(heldOutOf(page, 'blocks.0.hook_mlp_out (2 shards)')).resolves.toBe('document');
    await screenshot(page, 'datasets-arrow-import');
    await page.close();
  });

  it('a quota that runs out half way fails the import, naming the file, and leaves the rest untouched', async () => {
    const page = await openLab(lab);
    await page.locator('[data-testid=import-file]').setInputFiles(npyFile('kept.npy', 600, 8)); // one that must survive
    await page.locator('[data-testid=datasets] tbody tr', { hasText: 'kept.npy' }).waitFor({ timeout: 60_000 });
    const before = await storedRecords(page);
    // The disk fills after 5 of the 12 chunks (Chromium cannot lower a page's real quota mid-import).
    await page.evaluate(() => document.querySelector('sae-app')!.session.datasets.failStorageAt(5));
    await page.locator('[data-testid=import-file]').setInputFiles(npyFile('quota.npy', 196_608, 64)); // 48 MiB
    const message = page.locator('[data-testid=message].error');
    await message.waitFor({ timeout: 60_000 });
    await expect(message.textContent()).resolves.toMatch(/^quota\.npy: .*(quota|storage)/i);
    await page.evaluate(() => document.querySelector('sae-app')!.session.datasets.failStorageAt(null));
    expect(await storedRecords(page)).toEqual(before);
    await screenshot(page, 'datasets-quota-exceeded');
    await page.close();
  });

  it('harvests the real model on text typed into the page, a document per paragraph', async () => {
    const page = await openLab(lab);
    await page.locator('[data-testid=text-harvest] summary').click();
    const paragraphs = Array.from({ length: 6 }, (_, i) => `Paragraph ${i} talks about the weather. It rained on Tuesday, and the river rose. People stayed indoors!`);
    await page.locator('[data-testid=text-input]').fill(paragraphs.join('\n\n'));
    await page.locator('[data-testid=text-name]').fill('weather notes');
    await page.locator('[data-testid=text-harvest-go]').click();
    const row = page.locator('[data-testid=datasets] tbody tr', { hasText: 'weather notes' });
    await row.waitFor({ timeout: 120_000 });
    await expect(page.locator('[data-testid=message]').textContent()).resolves.toMatch(/Harvested [\d,]+ tokens from 6 paragraph\(s\) at [\d,]+ tokens\/s/);
    await expect(row.textContent()).resolves.toContain('× 512');
    await screenshot(page, 'datasets-text-harvest');
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
