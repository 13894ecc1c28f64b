// The lab's whole flow on real activations, as a presenter would run it, with other processes keeping every
// core busy: one click on "Present" harvests
// the built-in language model over its corpus (Brown and source code) in the page and starts the quick demo
// on it. The step count rises,
// the loss falls, the dictionary map is laid out again and again with every feature, features are born
// with their tokens; then pause, reload, resume from the checkpoint at the same step, finish, export.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { unzipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeSaelens } from '../../src/data/formats/saelens.ts';
import { openLab, ourLongFrames, screenshot, startLab, watchLongFrames, type Lab } from '../support/browser.ts';

let lab: Lab;
// every core kept busy by other processes for the whole flow, as a talk's laptop running other work would be
const load = cpus().map(() => spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
beforeAll(async () => {
  lab = await startLab();
}, 120_000);
afterAll(async () => {
  for (const p of load) p.kill('SIGKILL');
  await lab?.close();
});

describe('the lab, presented', () => {
  it('one click trains the quick demo on the real model; it pauses, survives a reload, resumes, finishes and exports', async () => {
    // a 30-second demo instead of the presenter's two minutes: the same flow, sooner
    const page = await openLab(lab, '?demo-seconds=30');
    // Long Animation Frames at the real sizes (F = 384 on the map): none over 100 ms from the project's scripts
    await watchLongFrames(page);
    await page.locator('[data-testid=present]').click();
    const state = () =>
      page.evaluate(() => {
        const r = document.querySelector('sae-app')!.session.training.run;
        return r && { runId: r.runId, status: r.status, step: r.step, steps: r.steps, loss: r.history.map((h) => h.loss), refreshes: r.map?.refreshes ?? 0, mapF: r.map?.F ?? 0, mapPoints: r.map ? r.map.xy.length / 2 : 0, born: r.born, bornTotal: r.bornTotal, error: r.error };
      });
    const waitFor = async (what: string, ok: (s: NonNullable<Awaited<ReturnType<typeof state>>>) => boolean, ms = 180_000) => {
      const t0 = Date.now();
      for (;;) {
        const s = await state();
        if (s && ok(s)) return s;
        if (s?.error) throw new Error(`${what}: the run failed: ${s.error}`);
        if (Date.now() - t0 > ms) throw new Error(`${what}: not reached in ${ms} ms; state ${JSON.stringify({ ...s, loss: s?.loss.length, born: s?.born.length })}`);
        await page.waitForTimeout(500);
      }
    };
    const running = await waitFor('training started', (s) => s.status === 'running' && s.step > 0 && s.steps > 0);
    expect(running.steps).toBeGreaterThanOrEqual(100);
    // the map is laid out at the first checkpoint and again at later ones, every time with all F points
    const mapped = await waitFor('the map refreshed twice', (s) => s.refreshes >= 2);
    expect(mapped.mapF).toBe(384); // quick demo: 2·d features for the built-in model's d = 192
    expect(mapped.mapPoints).toBe(384);
    expect(mapped.bornTotal).toBeGreaterThan(0);
    expect(mapped.born.some((b) => b.tokens.length > 0)).toBe(true); // the model's tokens from the token context
    await screenshot(page, 'lab-presenting');
    const frames = await ourLongFrames(page, lab);
    expect(frames.ours, JSON.stringify(frames.all)).toEqual([]);

    await page.locator('[data-testid=pause]').click();
    const paused = await waitFor('paused', (s) => s.status === 'paused', 60_000);
    const early = paused.loss.slice(0, 10).reduce((a, b) => a + b, 0) / 10;
    const late = paused.loss.slice(-10).reduce((a, b) => a + b, 0) / 10;
    expect(late).toBeLessThan(0.9 * early);

    await page.reload();
    await page.locator('[data-testid=datasets][data-loaded=true]').waitFor();
    const row = page.locator(`[data-testid=runs] tr[data-id="${paused.runId}"]`);
    await row.waitFor();
    expect(Number(await row.getAttribute('data-step'))).toBe(paused.step); // paused runs checkpoint where they stop
    await row.locator('[data-testid=resume]').click();
    const resumed = await waitFor('resumed', (s) => s.runId === paused.runId && s.status === 'running');
    expect(resumed.loss.length).toBeGreaterThanOrEqual(paused.step); // the history up to the checkpoint came back
    const done = await waitFor('finished', (s) => s.status === 'done', 300_000);
    expect(done.step).toBe(done.steps);
    await screenshot(page, 'lab-finished');

    const [file] = await Promise.all([page.waitForEvent('download'), row.locator('[data-testid=export-sae]').click()]);
    const files = unzipSync(new Uint8Array(readFileSync(await file.path())));
    const folder = file.suggestedFilename().replace(/\.zip$/, '');
    const sae = decodeSaelens(new TextDecoder().decode(files[`${folder}/cfg.json`]), files[`${folder}/sae_weights.safetensors`]!, folder);
    expect([sae.arch, sae.d, sae.features]).toEqual(['topk', 192, 384]);
    expect(sae.metadata).toMatchObject({ model_name: 'builtin-lm', hook_name: 'blocks.2.hook_resid_pre', context_size: 128, prepend_bos: true });

    await page.close();
  }, 600_000);
});
