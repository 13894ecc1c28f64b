// The explorer in the page: a run's SAE, trained on the real model's Brown activations, spliced back into
// the model in the explore worker. Type a sentence: every token shows its active features; pick one on a
// token, ablate it and steer it, and the sentence embedding moves off the clean one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLab, screenshot, startLab, type Lab } from '../support/browser.ts';

let lab: Lab;
beforeAll(async () => {
  lab = await startLab();
}, 120_000);
afterAll(async () => lab?.close());

describe('exploring features on the real model', () => {
  it('reads a typed sentence token by token, and ablating or steering a feature moves the output', async () => {
    const page = await openLab(lab);
    await page.locator('[data-testid=demo-brown]').click();
    await page.locator('[data-testid=datasets] tbody tr', { hasText: 'Brown corpus' }).waitFor({ timeout: 120_000 });
    const form = page.locator('[data-testid=run-form]');
    for (const [name, value] of Object.entries({ features: '128', k: '8', lr: '0.003', batch: '64', steps: '60' })) await form.locator(`input[name=${name}]`).fill(value);
    await form.locator('select[name=arch]').selectOption('topk');
    await page.locator('[data-testid=start]').click();
    await page.locator('[data-testid=run-status][data-status=done]').waitFor({ timeout: 180_000 });
    const runId = await page.evaluate(() => document.querySelector('sae-app')!.session.run!.runId!);

    await page.locator('[data-testid=explore-sae]').selectOption({ value: `run:${runId}` });
    await page.locator('[data-testid=explore-status][data-busy=false]').waitFor({ timeout: 60_000 });
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
        throw new Error(`${(e as Error).message}; explorer: ${await page.evaluate(() => JSON.stringify({ ...document.querySelector('sae-app')!.session.exploring, reading: undefined }))}`);
      });
      return Number(await effect.getAttribute('data-cosine'));
    };
    const ablated = await cosineAfter('ablate');
    expect(ablated).toBeGreaterThan(0.5);
    expect(ablated).toBeLessThan(1); // the feature was on: taking it out moves the output
    const steered = await cosineAfter('steer');
    expect(steered).toBeLessThan(1);
    expect(steered).not.toBe(ablated);
    await page.locator('[data-testid=explore-effect]').scrollIntoViewIfNeeded();
    await screenshot(page, 'explore');
    await page.close();
  }, 400_000);
});
