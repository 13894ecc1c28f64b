// Training in the page: a dataset imported through the file input trains in the GPU worker (real WebGPU
// on SwiftShader); the step count rises to the end and the loss falls — values read from the page's state.
// A run interrupted by the browser's GPU process dying and then by a reload resumes by itself from its
// checkpoint each time and ends with the same parameters, bit for bit, as a run never interrupted.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { unzipSync } from 'fflate';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeNpy } from '../../src/data/formats/npy.ts';
import { decodeSaelens } from '../../src/data/formats/saelens.ts';
import { SaeRunner } from '../../src/engine/evaluate.ts';
import { GEMM_VARIANTS } from '../../src/engine/gemm.ts';
import { getDevice } from '../support/gpu.ts';
import { generateSynthetic } from '../../src/data/synth.ts';
import type { Page } from 'playwright-core';
import { killGpuProcess, openLab, ourLongFrames, reloadOrReopen, screenshot, startLab, tunedGemms, watchLongFrames, type Lab } from '../support/browser.ts';

let lab: Lab;
beforeAll(async () => {
  lab = await startLab({ tuner: true }); // its first run is the tuner's test
}, 120_000);
afterAll(async () => lab?.close());

const toyRows = generateSynthetic({ d: 16, features: 48, rows: 4096, seed: 2 }).data;

async function importToy(page: Page): Promise<void> {
  if (await page.locator('[data-testid=datasets] tbody tr', { hasText: 'toy.npy' }).count()) return;
  const path = join(mkdtempSync(join(tmpdir(), 'sae-lab-train-')), 'toy.npy');
  writeFileSync(path, encodeNpy(toyRows, [4096, 16]));
  await page.locator('[data-testid=import-file]').setInputFiles(path);
  await page.locator('[data-testid=datasets] tbody tr', { hasText: 'toy.npy' }).waitFor({ timeout: 60_000 });
}

async function startRun(page: Page, steps: number, more: Record<string, string> = {}): Promise<void> {
  const form = page.locator('[data-testid=run-form]');
  await form.locator('select[name=dataset]').selectOption({ label: 'toy.npy (4096×16)' });
  const { arch = 'topk', ...inputs } = more;
  // the variant first: the form shows its own fields only (k for TopK)
  await form.locator('select[name=arch]').selectOption(arch);
  const k = arch === 'topk' ? { k: '3' } : {};
  for (const [name, value] of Object.entries({ features: '64', ...k, lr: '0.01', batch: '64', steps: String(steps), ...inputs })) {
    await form.locator(`input[name=${name}]`).fill(value);
  }
  await page.locator('[data-testid=start]').click();
}

/** The uninterrupted 400-step run, for the interrupted ones to be compared with. */
const STEPS = 200;
let whole: { loss: number[]; digest: string } | undefined;

const runState = (page: Page) =>
  page.evaluate(() => {
    const r = document.querySelector('sae-app')!.session.training.run!;
    return { runId: r.runId!, step: r.step, steps: r.history.map((h) => h.step), loss: r.history.map((h) => h.loss) };
  });

/** Waits until the run in the page has passed `step`; on a timeout, says what state the run was in. */
async function waitForStep(page: Page, step: number): Promise<void> {
  try {
    await page.waitForFunction((n) => (document.querySelector('sae-app')!.session.training.run?.step ?? 0) >= n, step);
  } catch (e) {
    const state = await page.evaluate(() => {
      const r = document.querySelector('sae-app')!.session.training.run;
      return r && { status: r.status, step: r.step, error: r.error, notice: r.notice };
    });
    throw new Error(`run never reached step ${step}: ${JSON.stringify(state)} (${(e as Error).message})`);
  }
}

const digest = (page: Page, runId: string) => page.evaluate((id) => document.querySelector('sae-app')!.session.training.paramsDigest(id), runId);

describe('training in the browser', () => {
  it('trains a stored dataset in the GPU worker; the loss falls', async () => {
    const page = await openLab(lab);
    await importToy(page);
    // Long Animation Frames while training: none over 100 ms may come from the project's own scripts.
    await watchLongFrames(page);
    await startRun(page, 150);
    await page.locator('[data-testid=run-status][data-status=running]').waitFor();
    await page.locator('[data-testid=run-status][data-status=done]').waitFor({ timeout: 120_000 });
    const run = await runState(page);
    expect(run.step).toBe(150);
    const frames = await ourLongFrames(page, lab);
    expect(frames.ours, JSON.stringify(frames.all)).toEqual([]);
    expect(run.steps).toEqual([...Array(150).keys()]);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(run.loss.slice(-15))).toBeLessThan(0.8 * mean(run.loss.slice(0, 15)));
    // the data stream from IndexedDB: every batch was read through it, and it says how fast
    const stream = await page.evaluate(() => document.querySelector('sae-app')!.session.training.run!);
    expect(stream.stream!.rows).toBe(150 * 64);
    expect(stream.stream!.deliveredRowsPerS).toBeGreaterThan(0);
    console.log(`data stream: ${Math.round(stream.stream!.deliveredRowsPerS)} rows/s delivered from IndexedDB, ${Math.round(stream.tokensPerS)} rows/s consumed by training, waited ${stream.stream!.waitMs.toFixed(0)} ms`);
    // the start-up tuner chose the GEMM kernels, the page names them, and its choices are in IndexedDB
    const kernels = await page.locator('[data-testid=run-kernels]').textContent();
    // (a TopK step has one GEMM, the encoder; a standard step five)
    expect(kernels).toMatch(new RegExp(`^GEMM kernels: encode (${GEMM_VARIANTS.join('|')})( · decode \\w+ · backprop \\w+ · gradDec \\w+ · gradEnc \\w+)?$`));
    const tuned = await tunedGemms(page);
    expect(tuned).toBe(kernels!.split(' · ').length);
    // the form's configuration timed on this adapter before a run starts (the quick demo sizes its run from
    // the same measurement: test/browser/lab.test.ts), and its GPU memory
    await expect(page.locator('[data-testid=memory-estimate]').textContent()).resolves.toMatch(/≈ [\d.]+ MiB on the GPU/);
    await page.locator('[data-testid=time-it]').click();
    await expect(page.locator('[data-testid=time-estimate]', { hasText: 'steps here' }).textContent()).resolves.toMatch(/≈ [\d.]+ m?s\/step → [\d.]+ (s|min|h) for \d+ steps here/);
    // the density histogram of the last checkpoint interval covers every feature
    await page.locator('[data-testid=density-chart]', { hasText: 'at step 150' }).waitFor();
    const density = await page.evaluate(() => document.querySelector('sae-app')!.session.training.run!.density!);
    expect(density.counts.reduce((a, b) => a + b, 0)).toBe(64);
    expect(density.tokens).toBe(50 * 64); // steps 100..150 of batch 64, since the checkpoint at 100
    // the decoder norms, and the dictionary map laid out at least twice (the first and the last checkpoint)
    await page.locator('[data-testid=norm-chart]', { hasText: 'decoder norms at step 150' }).waitFor();
    await page.locator('[data-testid=map][data-step="150"]').waitFor({ timeout: 60_000 }).catch(async (e) => {
      throw new Error(`${e.message}: ${await page.evaluate(() => JSON.stringify({ notice: document.querySelector('sae-app')!.session.training.run!.notice, step: document.querySelector('sae-app')!.session.training.run!.map?.step }))}`);
    });
    const map = await page.evaluate(() => {
      const m = document.querySelector('sae-app')!.session.training.run!.map!;
      return { F: m.F, refreshes: m.refreshes, xy: [...m.xy], density: [...m.density] };
    });
    expect(map.F).toBe(64);
    expect(map.refreshes).toBeGreaterThanOrEqual(2);
    expect(map.xy.length).toBe(128);
    expect(map.xy.every(Number.isFinite)).toBe(true);
    expect(new Set(map.xy.map((v) => v.toFixed(3))).size).toBeGreaterThan(64); // spread out, not one point
    expect(map.density.length).toBe(64);
    // the chart drew every step (uPlot's data, as the element holds it)
    await page.waitForFunction(() => {
      const chart = document.querySelector('sae-app')!.shadowRoot!.querySelector('sae-run-panel')!.shadowRoot!.querySelector('sae-loss-chart')!;
      return (chart as unknown as { plot?: { data: number[][] } }).plot?.data[0]?.length === 150;
    });
    // the health chart: reconstruction, dead fraction and tokens/s over the same steps
    await page.waitForFunction(() => {
      const chart = document.querySelector('sae-app')!.shadowRoot!.querySelector('sae-run-panel')!.shadowRoot!.querySelector('sae-loss-chart[kind=health]')!;
      const data = (chart as unknown as { plot?: { data: (number | null)[][] } }).plot?.data;
      return data?.[0]?.length === 150 && data[3]!.some((v) => v !== null && v > 0);
    });
    await screenshot(page, 'training-done');

    // Export the SAE: a zipped SAELens folder that loads and reconstructs the data it was trained on.
    const [file] = await Promise.all([
      page.waitForEvent('download'),
      page.locator(`[data-testid=runs] tr[data-id="${run.runId}"] [data-testid=export-sae]`).click(),
    ]);
    expect(file.suggestedFilename()).toMatch(/^sae-topk-64-toy\.npy-step150\.zip$/);
    const files = unzipSync(new Uint8Array(readFileSync(await file.path())));
    const folder = file.suggestedFilename().replace(/\.zip$/, '');
    expect(Object.keys(files).sort()).toEqual([`${folder}/cfg.json`, `${folder}/sae_weights.safetensors`, `${folder}/sparsity.safetensors`]);
    const sae = decodeSaelens(new TextDecoder().decode(files[`${folder}/cfg.json`]), files[`${folder}/sae_weights.safetensors`]!, folder);
    expect([sae.arch, sae.d, sae.features, sae.k, sae.applyBDecToInput]).toEqual(['topk', 16, 64, 3, true]);
    const runner = new SaeRunner(await getDevice(), sae);
    const metrics = await runner.evaluate([toyRows.subarray(0, 1024 * 16)]);
    runner.destroy();
    expect(metrics.fvu).toBeLessThan(0.6);
    await page.close();
  });

  it('a run interrupted by its GPU process dying, then by a reload, resumes by itself each time and ends bit-identical', async () => {
    let page = await openLab(lab);
    await importToy(page);
    await startRun(page, STEPS);
    await page.locator('[data-testid=run-status][data-status=done]').waitFor({ timeout: 120_000 });
    const first = await runState(page);
    whole = { loss: first.loss, digest: (await digest(page, first.runId))! };
    expect(whole.digest).toMatch(/^[0-9a-f]{64}$/);

    await startRun(page, STEPS);
    await waitForStep(page, 70);
    const cut = await runState(page);
    expect(cut.runId).not.toBe(first.runId);
    // the browser's GPU process dies (a driver crash): the worker takes a new device and resumes the run
    killGpuProcess(lab);
    await page.locator('[data-testid=run-notice]', { hasText: 'device was lost' }).waitFor({ timeout: 60_000 });
    await screenshot(page, 'training-after-device-loss');
    await waitForStep(page, 130);
    // the worker dies mid-run (checkpoints are every 50 steps)
    page = await reloadOrReopen(page, lab);
    // the run goes on by itself from its last checkpoint
    const notice = page.locator('[data-testid=run-notice]');
    await expect(notice.textContent({ timeout: 60_000 })).resolves.toMatch(/reloaded or crashed mid-run: resumed by itself from its checkpoint at step \d+/);
    const checkpointed = Number(/step (\d+)/.exec((await notice.textContent())!)![1]);
    expect(checkpointed % 50).toBe(0);
    expect(checkpointed).toBeGreaterThanOrEqual(100);
    expect(checkpointed).toBeLessThan(STEPS);
    await screenshot(page, 'training-interrupted');
    await page.locator('[data-testid=run-status][data-status=done]').waitFor({ timeout: 120_000 });
    const resumed = await runState(page);
    expect(resumed.runId).toBe(cut.runId);
    expect(resumed.steps).toEqual([...Array(STEPS).keys()]);
    expect(resumed.loss).toEqual(whole.loss);
    expect(await digest(page, cut.runId)).toBe(whole.digest);
    // the two runs side by side: their loss curves on one chart, each as long as its history
    for (const id of [first.runId, cut.runId]) await page.locator(`[data-testid=runs] tr[data-id="${id}"] [data-testid=compare]`).check();
    await page.locator('[data-testid=compare-chart][data-runs="2"]').waitFor();
    const compared = await page.evaluate(() => document.querySelector('sae-app')!.session.training.compared.map((r) => r.history.length));
    expect(compared).toEqual([STEPS, STEPS]);
    await screenshot(page, 'training-side-by-side');
    await page.close();
  });

  it('a diverging run stops, keeps its last good checkpoint and says so', async () => {
    const page = await openLab(lab);
    await startRun(page, 200, { lr: '1e30' }); // TopK: the kernels tuned for the first run's shapes are cached
    await page.locator('[data-testid=run-status][data-status=failed]').waitFor({ timeout: 60_000 });
    await expect(page.locator('[data-testid=run-error]').textContent()).resolves.toMatch(/diverged at step \d+ .*last good checkpoint \(step 0\)/);
    const runId = (await runState(page)).runId;
    const row = page.locator(`[data-testid=runs] tr[data-id="${runId}"]`);
    await expect(row.getAttribute('data-status')).resolves.toBe('failed');
    await expect(row.getAttribute('data-step')).resolves.toBe('0');
    await screenshot(page, 'training-diverged');
    await page.close();
  });
});
