// The explorer in the page: a run's SAE, trained on the real model's Brown activations (the built-in demo
// dataset, harvested in the page first), spliced back into the model in the explore worker. Type a
// sentence: every token shows its active features; pick one on a token, ablate it and steer it, and the
// sentence embedding moves off the clean one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { unzipSync } from 'fflate';
import { SCREENSHOTS, openLab, screenshot, startLab, storedRecords, tunedGemms, type Lab } from '../support/browser.ts';

let lab: Lab;
beforeAll(async () => {
  lab = await startLab();
}, 120_000);
afterAll(async () => lab?.close());

describe('exploring features on the real model', () => {
  it('reads a typed sentence token by token, ablates, steers and attributes; then the feature table, map and cards', async () => {
    const page = await openLab(lab);
    // the built-in real-model demo: the sentence encoder harvested over Brown in the page, stored with its
    // token context (pieces and POS tags) and held out by Brown file
    const before = await storedRecords(page);
    await page.locator('[data-testid=demo-brown]').click();
    const brown = page.locator('[data-testid=datasets] tbody tr', { hasText: 'Brown corpus' });
    await brown.waitFor({ timeout: 120_000 });
    await expect(brown.textContent()).resolves.toContain('20,000 × 512');
    await expect(page.locator('[data-testid=message]').textContent()).resolves.toMatch(/Harvested at [\d,]+ tokens\/s from \d+ Brown documents/);
    await expect(brown.locator('[data-testid=held-out]').textContent()).resolves.toBe('document');
    expect((await storedRecords(page)).context).toBeGreaterThan(before.context);
    await screenshot(page, 'datasets-brown-demo');
    const form = page.locator('[data-testid=run-form]');
    for (const [name, value] of Object.entries({ features: '128', k: '8', lr: '0.003', batch: '64', steps: '60' })) await form.locator(`input[name=${name}]`).fill(value);
    await form.locator('select[name=arch]').selectOption('topk');
    await page.locator('[data-testid=start]').click();
    await page.locator('[data-testid=run-status][data-status=done]').waitFor({ timeout: 180_000 });
    const runId = await page.evaluate(() => document.querySelector('sae-app')!.session.training.run!.runId!);
    // a smaller SAE on the same activations, for feature splitting
    await form.locator('input[name=features]').fill('32');
    await page.locator('[data-testid=start]').click();
    await page.waitForFunction((first) => { const r = document.querySelector('sae-app')!.session.training.run; return r?.runId !== first && r?.status === 'done'; }, runId, { timeout: 180_000 });
    const smallId = await page.evaluate(() => document.querySelector('sae-app')!.session.training.run!.runId!);
    expect(await tunedGemms(page)).toBe(0); // ?tune=off: both runs took the default kernels, timing none

    await page.locator('[data-testid=explore-sae]').selectOption({ value: `run:${runId}` });
    await page.locator('[data-testid=explore-status][data-busy=false]').waitFor({ timeout: 60_000 });
    // downstream fidelity of the whole SAE, spliced into the model on sentences from the corpus's end
    await page.locator('[data-testid=fidelity]').click();
    const recovered = Number(await page.locator('[data-testid=fidelity-result]').getAttribute('data-recovered', { timeout: 120_000 }));
    expect(recovered).toBeGreaterThan(0);
    expect(recovered).toBeLessThan(1);
    await page.locator('[data-testid=explore-text]').fill('The jury praised the city of Atlanta for the election .');
    await page.locator('[data-testid=explore-read]').click();
    const tokens = page.locator('[data-testid=explore-tokens] .token');
    await tokens.first().waitFor({ timeout: 60_000 });
    expect(await tokens.count()).toBeGreaterThan(8);
    await tokens.nth(1).locator('.chip').first().click(); // the strongest feature on '▁jury'
    const cosineAfter = async (button: 'ablate' | 'steer') => {
      await page.locator(`[data-testid=${button}]`).click();
      const effect = page.locator('[data-testid=explore-effect]', { hasText: button === 'ablate' ? 'ablated' : 'steered' });
      await effect.waitFor({ timeout: 60_000 }).catch(async (e) => {
        throw new Error(`${(e as Error).message}; explorer: ${await page.evaluate(() => JSON.stringify({ ...document.querySelector('sae-app')!.session.explorer.state, reading: undefined }))}`);
      });
      return Number(await effect.getAttribute('data-cosine'));
    };
    const ablated = await cosineAfter('ablate');
    expect(ablated).toBeGreaterThan(0.5);
    expect(ablated).toBeLessThan(1); // the feature was on: taking it out moves the output
    // the nearest of the demo's harvested sentences to the clean and to the edited output
    await expect(page.locator('[data-testid=explore-nearest]').textContent()).resolves.toMatch(/nearest harvested sentences, clean\s*0\.\d{3}/);
    const steered = await cosineAfter('steer');
    expect(steered).toBeLessThan(1);
    expect(steered).not.toBe(ablated);
    // attribution: every shown token × feature, by exact differences, in one batched model run
    await page.locator('[data-testid=attribute]').click();
    await page.locator('[data-testid=attribution]').waitFor({ timeout: 60_000 });
    const contributions = await page.evaluate(() => document.querySelector('sae-app')!.session.explorer.state!.attribution!.contributions);
    const reading = await page.evaluate(() => document.querySelector('sae-app')!.session.explorer.state!.reading!.features.map((f) => f.length));
    expect(contributions.map((c) => c.length)).toEqual(reading);
    expect(contributions.flat().every(Number.isFinite)).toBe(true);
    expect(contributions.flat().some((c) => Math.abs(c) > 1e-4)).toBe(true);
    await page.locator('[data-testid=explore-effect]').scrollIntoViewIfNeeded();
    await screenshot(page, 'explore');

    // The feature explorer on the same SAE: statistics over the held-out documents, a cancelled job that
    // stores nothing, the table sorted and searched, and a card with its examples in context.
    await page.locator('[data-testid=features-sae]').selectOption({ value: `run:${runId}` });
    await page.locator('[data-testid=features-compute]').click();
    await page.locator('[data-testid=features-progress]').waitFor();
    await page.locator('[data-testid=features-cancel]').click();
    await expect(page.locator('[data-testid=features-error]').textContent()).resolves.toContain('cancelled; nothing was stored');
    await page.locator('[data-testid=features-compute]').click();
    const table = page.locator('[data-testid=features-table]');
    await table.waitFor({ timeout: 180_000 });
    const live = Number(await table.getAttribute('data-rows'));
    expect(live).toBeGreaterThan(32);
    await page.locator('[data-testid=features-search]').fill(' the');
    await page.locator('[data-testid=features-table][data-rows]').first().waitFor();
    const withThe = Number(await table.getAttribute('data-rows'));
    expect(withThe).toBeGreaterThan(0);
    expect(withThe).toBeLessThan(live);
    await page.locator('[data-testid=features-search]').fill('');
    await page.locator('button.sort', { hasText: 'label purity' }).click();
    const first = table.locator('tbody tr').first();
    const purity = Number(await first.locator('td').nth(4).textContent());
    expect(purity).toBeGreaterThan(0.5);
    // the map of this SAE: hover shows a feature's top tokens, a click opens its card, a lasso lists features
    await page.locator('sae-features-panel [data-testid=map][data-points="128"]').waitFor({ timeout: 60_000 });
    const canvas = page.locator('sae-features-panel sae-map-view canvas');
    const box = (await canvas.boundingBox())!;
    const point = (i: number) =>
      page.evaluate((f) => (document.querySelector('sae-app')!.shadowRoot!.querySelector('sae-features-panel')!.shadowRoot!.querySelector('sae-map-view') as unknown as { pointOf(i: number): [number, number] }).pointOf(f), i);
    const alive = await page.evaluate(() => document.querySelector('sae-app')!.session.features.view!.table!.features.find((f) => f.density > 0)!.feature);
    const [px, py] = await point(alive);
    await page.mouse.move(box.x + px, box.y + py);
    await expect(page.locator('[data-testid=map-tip]').textContent()).resolves.toMatch(/^#\d+/);
    await page.mouse.down();
    await page.mouse.up();
    await page.locator(`[data-testid=feature-card][data-feature="${alive}"]`).waitFor({ timeout: 60_000 });
    await page.mouse.move(box.x + 2, box.y + 2);
    await page.mouse.down();
    for (const [x, y] of [[box.width - 2, 2], [box.width - 2, box.height - 2], [2, box.height - 2], [2, 3]]) await page.mouse.move(box.x + x!, box.y + y!, { steps: 4 });
    await page.mouse.up();
    await expect(page.locator('[data-testid=lasso]').getAttribute('data-count')).resolves.toBe('128');
    await page.locator('sae-features-panel sae-map-view').screenshot({ path: join(SCREENSHOTS, 'feature-map.png') });
    await first.click();
    const card = page.locator('[data-testid=feature-card]');
    await card.waitFor({ timeout: 60_000 });
    expect(await card.locator('.example').count()).toBeGreaterThan(3);
    await expect(card.textContent()).resolves.toMatch(/encoder–decoder cosine -?[\d.]+/);
    // beside a linear probe for its dominant label, on the same held-out rows
    await expect(card.locator('[data-testid=feature-probe]').textContent()).resolves.toMatch(/detector .*precision [\d.]+, recall [\d.]+.*linear probe .*precision [\d.]+, recall [\d.]+/s);
    await card.screenshot({ path: join(SCREENSHOTS, 'feature-card.png') });
    // feature splitting against the smaller SAE
    await page.locator('[data-testid=split-with]').selectOption({ value: `run:${smallId}` });
    const split = page.locator('[data-testid=split]');
    await split.waitFor({ timeout: 60_000 });
    await expect(split.textContent()).resolves.toMatch(/of the 32 features of the smaller SAE split into ≥ 2 of the larger's 128/);
    await split.screenshot({ path: join(SCREENSHOTS, 'feature-splitting.png') });
    // the feature data as static JSON: one file per feature, with its examples' tokens and activations
    const [file] = await Promise.all([page.waitForEvent('download'), page.locator('[data-testid=features-export]').click()]);
    const files = unzipSync(new Uint8Array(readFileSync(await file.path())));
    const names = Object.keys(files);
    expect(names.filter((n) => /\/features\/\d+\.json$/.test(n))).toHaveLength(128);
    const index = JSON.parse(new TextDecoder().decode(files[names.find((n) => n.endsWith('/index.json'))!]));
    expect(index.features).toHaveLength(128);
    const one = JSON.parse(new TextDecoder().decode(files[names.find((n) => n.endsWith(`/features/${alive}.json`))!]));
    expect(one.top_examples.length).toBeGreaterThan(0);
    const ex = one.top_examples[0];
    expect(ex.tokens.length).toBe(ex.acts.length);
    expect(ex.acts[ex.hit]).toBeCloseTo(ex.act, 4); // the hit's own activation, recomputed in its window
    expect(one).toHaveProperty('act_histogram.counts');
    await table.screenshot({ path: join(SCREENSHOTS, 'feature-table.png') });
    await page.close();
  }, 400_000);
});
