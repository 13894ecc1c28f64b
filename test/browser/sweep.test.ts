// A sweep in the page as a user runs one, on the lab's built-in toy data: a grid too large for the GPU is
// refused with its sizes before any run; a 3 × 2 grid trains run after run while other processes keep every
// core busy, survives the browser's GPU process killed mid-run and a reload mid-run (each interrupted run
// resumes by itself from its checkpoint: no cell is trained twice, nothing stops), and draws the scaling
// view — the frontier, its fit, the best size, FVU against L0 — from the held-out metrics. A sweep whose
// dataset is deleted mid-run stops saying so and keeps its finished runs.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeNpy } from '../../src/data/formats/npy.ts';
import { generateSynthetic } from '../../src/data/synth.ts';
import { killGpuProcess, openLab, reloadOrReopen, screenshot, startLab, type Lab } from '../support/browser.ts';

let lab: Lab;
beforeAll(async () => {
  lab = await startLab();
}, 120_000);
afterAll(async () => lab?.close());

async function importToy(page: Page, name: string): Promise<void> {
  const path = join(mkdtempSync(join(tmpdir(), 'sae-lab-sweep-')), name);
  writeFileSync(path, encodeNpy(generateSynthetic({ d: 16, features: 48, rows: 4096, seed: 4 }).data, [4096, 16]));
  await page.locator('[data-testid=import-file]').setInputFiles(path);
  await page.locator('[data-testid=datasets] tbody tr', { hasText: name }).waitFor({ timeout: 60_000 });
}

/** the built-in toy superposition data (d = 64, 32,768 rows), made with its button on the data panel */
const BUILTIN = 'toy superposition (d=64, 256 true directions) (32768×64)';

async function fillSweep(page: Page, dataset: string, sizes: string, steps: string): Promise<void> {
  const form = page.locator('[data-testid=run-form]');
  await form.locator('select[name=dataset]').selectOption({ label: dataset });
  await form.locator('select[name=arch]').selectOption('topk');
  for (const [name, value] of Object.entries({ k: '4', lr: '0.01', batch: '64', sweepSizes: sizes, sweepSteps: steps })) await form.locator(`input[name=${name}]`).fill(value);
}

/** what the page shows of the run training now, for a failure's message */
const runNow = (page: Page) =>
  page.evaluate(() => {
    const s = document.querySelector('sae-app')!.session;
    const r = s.training.run;
    return { run: r && { status: r.status, step: r.step, error: r.error, notice: r.notice }, message: s.message, sweep: s.sweeps.view?.sweep };
  });

/** the sweep's runs as the page's session lists them: [features, steps, status] */
const sweepRuns = (page: Page) =>
  page.evaluate(() => {
    const s = document.querySelector('sae-app')!.session;
    const id = s.sweeps.view?.sweep.id;
    return s.training.runs.filter((r) => r.sweep?.id === id).map((r) => [r.config.features, r.config.steps, r.status] as const);
  });

describe('sweeps in the page', () => {
  it('refuses a grid too large; trains 3 × 2 on built-in data under load across a GPU-process crash and a reload; draws the frontier and its fit', async () => {
    // every core kept busy by other processes for the whole sweep
    const load = cpus().map(() => spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
    try {
      await (await sweepUnderLoad(await openLab(lab))).close();
    } finally {
      for (const p of load) p.kill('SIGKILL');
    }
  });

  /** the sweep's story; returns the page it ends on (a crashed page is replaced, as a user would reopen it) */
  async function sweepUnderLoad(page: Page): Promise<Page> {
    // the built-in toy data, made with one click
    await page.locator('[data-testid=demo-toy]').click();
    const toy = page.locator('[data-testid=datasets] tbody tr', { hasText: 'toy superposition' });
    await toy.waitFor({ timeout: 60_000 });
    await expect(toy.textContent()).resolves.toContain('32,768 × 64');
    await screenshot(page, 'datasets-toy-demo');

    await fillSweep(page, BUILTIN, '64,40000000', '60');
    await page.locator('[data-testid=start-sweep]').click();
    await expect(page.locator('[data-testid=sweep-refused]').textContent({ timeout: 30_000 })).resolves.toMatch(/40000000 features over d = 64.*does not fit/);
    expect(await page.locator('[data-testid=runs] tbody tr').count()).toBe(0);

    // the longer runs leave the kill and the reload hundreds of steps to land in (the page's step lags the worker's)
    await fillSweep(page, BUILTIN, '64,128,256', '30,300');
    await page.locator('[data-testid=start-sweep]').click();
    /** until `measured` runs are done and the next one has passed its first checkpoint (step 50) */
    const midRun = (measured: number) =>
      page.waitForFunction((n) => {
        const s = document.querySelector('sae-app')!.session;
        return (s.sweeps.view?.runs.length ?? 0) >= n && s.training.run?.status === 'running' && s.training.run.step > 55;
      }, measured, { timeout: 240_000, polling: 100 });
    // the GPU process killed mid-run: the worker gets a new device and the run goes on from its checkpoint. Now
    // and then this Chromium's renderer goes down with its GPU process; the lab opened again goes on by itself.
    await midRun(1);
    let crashed = false;
    page.once('crash', () => (crashed = true));
    killGpuProcess(lab);
    const noticed = () => page.waitForFunction(() => document.querySelector('sae-app')!.session.training.run?.notice, undefined, { timeout: 60_000, polling: 100 }).then((h) => h.jsonValue());
    const notice = await noticed().catch(async (e) => {
      if (!crashed) throw new Error(`no notice after the GPU process was killed: ${JSON.stringify(await runNow(page).catch(() => 'the page is gone'))}`, { cause: e });
      await page.close();
      page = await openLab(lab);
      return noticed();
    });
    expect(notice).toMatch(/device was lost.*resumed from the checkpoint at step \d+$|reloaded or crashed mid-run: resumed by itself from its checkpoint at step \d+/);
    // then a reload mid-run
    await midRun(3);
    const before = await sweepRuns(page);
    page = await reloadOrReopen(page, lab);
    const done = page.locator('sae-scaling-view [data-testid=sweep-done]');
    await expect.poll(() => done.textContent(), { timeout: 240_000, message: 'all six cells done' }).toBe('6');
    const runs = await sweepRuns(page);
    expect([...runs].sort()).toEqual([[64, 30, 'done'], [64, 300, 'done'], [128, 30, 'done'], [128, 300, 'done'], [256, 30, 'done'], [256, 300, 'done']].sort());
    expect(runs.length, `each cell trained once, the interrupted one resumed (before the reload: ${JSON.stringify(before)})`).toBe(6);

    // the scaling view: every run's held-out FVU, the frontier, the fit, the sparsity–fidelity trade-off
    const view = page.locator('sae-scaling-view');
    await expect(view.locator('[data-testid=sweep-runs] tbody tr').count()).resolves.toBe(6);
    await expect(view.locator('[data-testid=sweep-scaling] svg polyline').count()).resolves.toBeGreaterThan(3);
    await expect(view.locator('[data-testid=sweep-fvu-l0] svg').count()).resolves.toBe(1);
    const summary = await page.evaluate(() => {
      const v = document.querySelector('sae-app')!.session.sweeps.view!;
      return { groups: v.groups.length, fit: v.groups[0]!.fit, runs: v.runs.map((r) => [r.compute, r.loss]) };
    });
    expect(summary.runs.every(([c, l]) => c > 0 && l > 0 && l < 1.5)).toBe(true);
    expect(await view.locator('[data-testid=sweep-fit]').textContent()).toContain(summary.fit ? 'Frontier fit' : 'needs 3 frontier runs');
    await view.scrollIntoViewIfNeeded();
    await screenshot(page, 'sweep-scaling');
    return page;
  }

  it('sweeps k too, a frontier and fit per k; stops a sweep whose dataset is deleted mid-run, saying so, and keeps its finished runs', async () => {
    const page = await openLab(lab);
    await importToy(page, 'gone.npy');
    // a sparsity axis: k = 2 and 4 at each size, each k with its own frontier, fit and best sizes
    await fillSweep(page, 'gone.npy (4096×16)', '16,32', '40');
    const k = page.locator('[data-testid=sweep-sparsity]');
    await k.fill('2,4');
    await page.locator('[data-testid=start-sweep]').click();
    await page.waitForFunction(() => {
      const v = document.querySelector('sae-app')!.session.sweeps.view;
      return v?.sweep.datasetName === 'gone.npy' && v.sweep.status === 'done';
    }, undefined, { timeout: 120_000, polling: 200 });
    const bySparsity = await page.evaluate(() => {
      const v = document.querySelector('sae-app')!.session.sweeps.view!;
      return { runs: v.runs.map((r) => [r.features, r.sparsity, r.l0 <= Number(r.sparsity.slice(2)) + 1e-9]), groups: v.groups.map((g) => [g.sparsity, g.frontier.every((r) => r.sparsity === g.sparsity)]) };
    });
    expect([...bySparsity.runs].sort()).toEqual([[16, 'k=2', true], [16, 'k=4', true], [32, 'k=2', true], [32, 'k=4', true]]);
    expect(bySparsity.groups).toEqual([['k=2', true], ['k=4', true]]);
    const view = page.locator('sae-scaling-view');
    await expect(view.locator('[data-testid=sweep-fit]').count()).resolves.toBe(2);
    await expect(view.locator('[data-testid=sweep-scaling] svg').textContent()).resolves.toContain('k=4 frontier');
    await view.scrollIntoViewIfNeeded();
    await screenshot(page, 'sweep-sparsity');

    await k.fill('');
    await fillSweep(page, 'gone.npy (4096×16)', '16,24,32', '150');
    await page.locator('[data-testid=start-sweep]').click();
    await page.waitForFunction(() => {
      const s = document.querySelector('sae-app')!.session;
      return s.sweeps.view?.sweep.datasetName === 'gone.npy' && s.sweeps.view.runs.length >= 1 && s.training.run?.status === 'running' && s.training.run.step > 20;
    }, undefined, { timeout: 120_000, polling: 100 });
    page.once('dialog', (d) => void d.accept());
    await page.locator('[data-testid=datasets] tbody tr', { hasText: 'gone.npy' }).getByRole('button', { name: 'Delete' }).click();
    const error = page.locator('sae-scaling-view [data-testid=sweep-error]');
    await expect(error.textContent({ timeout: 120_000 })).resolves.toMatch(/dataset 'gone\.npy' was deleted during the sweep.*stopped after [12] of 3 runs; the finished runs are kept/);
    // the runs finished before the deletion are kept; the third never started
    const kept = await sweepRuns(page);
    expect(kept.length).toBe(2);
    expect(kept[0]).toEqual([16, 150, 'done']);
    await screenshot(page, 'sweep-dataset-deleted');
    await page.close();
  });
});
