// Language models in the page, as a new user meets them: a long harvest cancelled with nothing stored;
// harvest a hook of the built-in model over its corpus, train an SAE on the rows, open its features with
// their token contexts, export it with the model's provenance in cfg.json; add the gpt2-tiny folder as one's own model, harvest it on typed text,
// find it again after a reload; and every kind of bad folder refused with the file and the problem, with
// nothing stored.
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Download, Page } from 'playwright-core';
import { unzipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GPT2, LLAMA, badModelFolders } from '../support/bad-models.ts';
import { openLab, screenshot, startLab, storedRecords, type Lab } from '../support/browser.ts';

let lab: Lab;
let page: Page;
beforeAll(async () => {
  lab = await startLab();
  page = await openLab(lab);
}, 120_000);
afterAll(async () => lab?.close());

/** a download's contents as text */
async function readDownload(d: Download): Promise<string> {
  return readFileSync((await d.path())!, 'utf8');
}

/** the models the page lists, by id */
const listedModels = () => page.locator('[data-testid=models] tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-id')));

/** model records straight from IndexedDB */
const storedModels = () =>
  page.evaluate(
    () =>
      new Promise<number>((resolve, reject) => {
        const req = indexedDB.open('sae-lab-models');
        req.onerror = () => reject(req.error);
        req.onsuccess = () => {
          const count = req.result.transaction('models').objectStore('models').count();
          count.onsuccess = () => (req.result.close(), resolve(count.result));
        };
      }),
  );

describe('language models in the page', () => {
  it('harvests the built-in model, trains an SAE on it, and opens its features with their token contexts', async () => {
    await page.locator('[data-testid=models] tr[data-id=builtin]').waitFor();
    const form = page.locator('[data-testid=lm-harvest]');
    expect(await form.locator('[data-testid=lm-hook]').inputValue()).toBe('blocks.2.hook_resid_pre');
    // a long harvest, cancelled: a clear message and nothing stored
    const before = (await storedRecords(page)).datasets.length;
    await form.locator('[data-testid=lm-tokens]').fill('50000');
    await form.locator('[data-testid=lm-harvest-go]').click();
    await page.locator('[data-testid=lm-progress]', { hasText: 'harvesting' }).waitFor({ timeout: 60_000 });
    await page.locator('[data-testid=lm-cancel]').click();
    await page.locator('[data-testid=message].error', { hasText: 'harvest cancelled after' }).waitFor({ timeout: 60_000 });
    await expect(page.locator('[data-testid=message]').textContent()).resolves.toContain('nothing was stored');
    expect((await storedRecords(page)).datasets.length).toBe(before);

    await form.locator('[data-testid=lm-tokens]').fill('3000');
    await form.locator('[data-testid=lm-context]').fill('64');
    await form.locator('[data-testid=lm-harvest-go]').click();
    await page.locator('[data-testid=lm-progress]').waitFor();
    const row = page.locator('[data-testid=datasets] tbody tr', { hasText: 'builtin-lm blocks.2.hook_resid_pre' });
    await row.waitFor({ timeout: 180_000 });
    await expect(page.locator('[data-testid=message]').textContent()).resolves.toMatch(/3,000 tokens .* sequence of up to 64 tokens, a BOS token first/);
    await screenshot(page, 'lm-harvested');

    const run = page.locator('[data-testid=run-form]');
    await run.locator('select[name=dataset]').selectOption({ label: `${await row.locator('.name').textContent()} (3000×192)` });
    for (const [name, value] of Object.entries({ features: '96', k: '8', lr: '0.003', batch: '64', steps: '80' })) await run.locator(`input[name=${name}]`).fill(value);
    await run.locator('select[name=arch]').selectOption('topk');
    await page.locator('[data-testid=start]').click();
    await page.locator('[data-testid=run-status][data-status=done]').waitFor({ timeout: 240_000 });
    const runId = await page.evaluate(() => document.querySelector('sae-app')!.session.training.run!.runId!);

    await page.locator('[data-testid=features-sae]').selectOption({ value: `run:${runId}` });
    await page.locator('[data-testid=features-compute]').click();
    const table = page.locator('[data-testid=features-table]');
    await table.waitFor({ timeout: 180_000 });
    await table.locator('tbody tr').first().click();
    const card = page.locator('[data-testid=feature-card]');
    await card.waitFor();
    // the card shows the feature's top contexts: text of the corpus, tokens of the built-in model
    expect((await card.textContent())!.length).toBeGreaterThan(100);
    await card.scrollIntoViewIfNeeded();
    await screenshot(page, 'lm-features');

    // from the card to the language model: what the feature does there, then steer it on a prompt
    await card.locator('[data-testid=feature-in-model]').click();
    const lm = page.locator('sae-lm-panel');
    const fv = lm.locator('[data-testid=lm-feature-view]');
    await fv.waitFor({ timeout: 180_000 });
    expect(await lm.locator('[data-testid=lm-status]').textContent()).toContain('spliced into builtin-lm at blocks.2.hook_resid_pre');
    expect(await fv.locator('[data-testid=lm-promoted] li').count()).toBe(10);
    expect(await fv.locator('[data-testid=lm-suppressed] li').count()).toBe(10);
    await expect(fv.locator('[data-testid=lm-measured]').textContent()).resolves.toMatch(/Measured on [\d,]+ held-out tokens/);
    await expect(card.locator('[data-testid=card-logits]').textContent()).resolves.toContain('promotes');
    await fv.scrollIntoViewIfNeeded();
    await screenshot(page, 'lm-feature-in-model');
    await lm.locator('[data-testid=lm-prompt]').fill('The jury said that the city');
    await lm.locator('[data-testid=lm-strength]').fill('40');
    await lm.locator('[data-testid=lm-steer-go]').click();
    const result = lm.locator('[data-testid=lm-steer-result]');
    await result.waitFor({ timeout: 180_000 });
    const plain = await result.locator('[data-testid=lm-baseline] .text').textContent();
    const steered = await result.locator('[data-testid=lm-steered] .text').textContent();
    expect(plain!.startsWith('The jury said that the city') || plain!.includes('jury')).toBe(true);
    expect(steered).not.toBe(plain);
    await result.scrollIntoViewIfNeeded();
    await screenshot(page, 'lm-steered');
    // the comparison as a figure: an SVG with its caption, and the numbers behind it
    const [svg] = await Promise.all([page.waitForEvent('download'), lm.locator('[data-testid=lm-steer-form] ~ sae-figure-export [data-testid=figure-svg]').first().click()]);
    const text = await readDownload(svg);
    expect(text).toMatch(/^<svg/);
    expect(text).toContain('Steering feature #');
    const [data] = await Promise.all([page.waitForEvent('download'), lm.locator('[data-testid=lm-steer-form] ~ sae-figure-export [data-testid=figure-data]').first().click()]);
    expect(JSON.parse(await readDownload(data)).data.steered[0].strength).toBe(40);

    // the next token attributed to features, shown on the prompt's tokens; the CE loss and KL scores
    await lm.locator('summary', { hasText: 'Attribute a next token' }).click();
    await lm.locator('[data-testid=lm-attr-prompt]').fill('The jury said that the');
    await lm.locator('[data-testid=lm-attr-target]').fill(' city');
    await lm.locator('[data-testid=lm-attr-go]').click();
    await lm.locator('[data-testid=lm-attribution] tr').nth(3).waitFor({ timeout: 120_000 });
    expect(await lm.locator('[data-testid=lm-attribution-tokens] .tok').count()).toBeGreaterThan(4);
    await lm.locator('summary', { hasText: 'CE loss and KL' }).click();
    await lm.locator('[data-testid=lm-fidelity-tokens]').fill('256');
    await lm.locator('[data-testid=lm-fidelity-go]').click();
    const fidelity = lm.locator('[data-testid=lm-fidelity]');
    await fidelity.waitFor({ timeout: 300_000 });
    const score = Number(await fidelity.getAttribute('data-score'));
    expect(score).toBeGreaterThan(0);
    expect(score).toBeLessThanOrEqual(1);
    await fidelity.scrollIntoViewIfNeeded();
    await screenshot(page, 'lm-attribution-fidelity');

    const zip = await page.evaluate(async (id) => Array.from((await document.querySelector('sae-app')!.session.training.exportSae(id)).zip), runId);
    const files = unzipSync(Uint8Array.from(zip));
    const cfg = JSON.parse(new TextDecoder().decode(Object.entries(files).find(([n]) => n.endsWith('cfg.json'))![1]));
    expect(cfg.metadata).toMatchObject({ model_name: 'builtin-lm', hook_name: 'blocks.2.hook_resid_pre', context_size: 64, prepend_bos: true });

    // Export for SAELens, cancelled from its progress line: a message, and no download
    const runRow = page.locator(`[data-testid=runs] tr[data-id="${runId}"]`);
    await page.evaluate(async (id) => {
      const panel = document.querySelector('sae-app')!.shadowRoot!.querySelector('sae-run-panel')!;
      (panel.shadowRoot!.querySelector(`tr[data-id="${id}"] [data-testid=export-scale]`) as HTMLElement).click();
      await panel.updateComplete;
      (panel.shadowRoot!.querySelector('[data-testid=export-scale-cancel]') as HTMLElement).click();
    }, runId);
    await page.locator('[data-testid=message]', { hasText: 'Export for SAELens: cancelled; nothing was downloaded' }).waitFor({ timeout: 60_000 });
    // then whole: the cache, and the model and the text the rows were harvested from
    const [handed] = await Promise.all([page.waitForEvent('download'), runRow.locator('[data-testid=export-scale]').click()]);
    const handover = unzipSync(new Uint8Array(readFileSync((await handed.path())!)));
    const at = (suffix: string) => handover[Object.keys(handover).find((k) => k.endsWith(suffix)) ?? ''];
    const served = readFileSync(join(import.meta.dirname, '../../public/models/builtin-lm/model.safetensors'));
    expect(Buffer.compare(at('/model/model.safetensors')!, served)).toBe(0);
    for (const f of ['/model/config.json', '/model/tokenizer.json', '/runner-config-model.json', '/sparsify.sh', '/cache/state.json']) expect(at(f), f).toBeDefined();
    const docs = new TextDecoder().decode(at('/corpus/corpus.jsonl')).trim().split('\n').map((l) => JSON.parse(l).text as string);
    expect(docs.join('').length).toBeGreaterThanOrEqual(3000); // 3,000 tokens of text
    const fromModel = JSON.parse(new TextDecoder().decode(at('/runner-config-model.json')));
    expect([fromModel.model_name, fromModel.hook_name, fromModel.dataset_path, fromModel.context_size]).toEqual(['./model', 'model.layers.1', './corpus', 64]); // resid_pre of layer 2: the output of layer 1
  });

  it("adds the gpt2-tiny folder as the user's own model, harvests it on typed text, and keeps it after a reload", async () => {
    await page.locator('[data-testid=model-folder]').setInputFiles(GPT2);
    await page.locator('[data-testid=message]', { hasText: 'Added the model gpt2-tiny' }).waitFor({ timeout: 60_000 });
    const id = (await listedModels()).find((m) => m !== 'builtin')!;
    expect(await storedModels()).toBe(1);
    const form = page.locator('[data-testid=lm-harvest]');
    await form.locator('[data-testid=lm-model]').selectOption(id);
    await form.locator('[data-testid=lm-hook]').selectOption('blocks.1.hook_resid_post');
    await form.locator('[data-testid=lm-source-text]').check();
    await form.locator('[data-testid=lm-text]').fill('The cat sat on the mat.\n\nA second paragraph, about dogs and their owners.');
    await form.locator('[data-testid=lm-harvest-go]').click();
    await page.locator('[data-testid=datasets] tbody tr', { hasText: 'gpt2-tiny blocks.1.hook_resid_post' }).waitFor({ timeout: 120_000 });
    await screenshot(page, 'lm-user-model');
    // a model's files picked one by one (no folder) work as well
    const files = ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json'].map((f) => join(LLAMA, f));
    await page.locator('[data-testid=model-files]').setInputFiles(files);
    await page.locator('[data-testid=message]', { hasText: 'Added the model my model: llama' }).waitFor({ timeout: 60_000 });
    expect(await storedModels()).toBe(2);
    await page.reload();
    await page.locator('[data-testid=datasets][data-loaded=true]').waitFor();
    await page.locator(`[data-testid=models] tr[data-id="${id}"]`).waitFor();
    expect(await listedModels()).toHaveLength(3);
  });

  it('refuses every kind of bad model folder with the file and the problem, storing nothing', async () => {
    const before = { models: await storedModels(), listed: await listedModels(), datasets: (await storedRecords(page)).datasets.length };
    const bad = badModelFolders(mkdtempSync(join(tmpdir(), 'sae-lab-bad-models-')));
    for (const folder of bad) {
      await page.locator('[data-testid=model-folder]').setInputFiles(folder.dir);
      const message = page.locator('[data-testid=message].error', { hasText: folder.fragments[0] });
      await message.waitFor({ timeout: 60_000 });
      const text = (await message.textContent())!;
      for (const f of folder.fragments) expect(text, `${folder.kind} (${readdirSync(folder.dir).join(', ')})`).toContain(f);
    }
    await screenshot(page, 'lm-refused');
    expect(await storedModels()).toBe(before.models);
    expect(await listedModels()).toEqual(before.listed);
    expect((await storedRecords(page)).datasets.length).toBe(before.datasets);
  });
});
