// Sweeps in the GPU worker: a grid is checked whole before its first run (every configuration against the
// device's limits, all of its checkpoints against the browser's storage) and stored; its runs are ordinary
// runs tagged with it, trained one after another by the page (ui/session/sweeps.ts). A finished run's
// held-out metrics, which the scaling view plots, are measured once and kept with it.
import { cellConfig, sweepCells, type RunRecord, type SweepRecord } from '../data/runs.ts';
import { checkQuota, defaultStorage, formatBytes } from '../data/store-quota.ts';
import { defaultConfig, keepsK, sparsityKnob, type TrainConfig } from '../engine/config.ts';
import { foldSae, snapshotParams } from '../engine/fold.ts';
import { checkFits, DoesNotFitError } from '../engine/memory.ts';
import type { GpuApi } from './api.ts';
import { getDatasets, getDevice, getRuns } from './gpu-context.ts';
import { evaluateOn } from './sae-jobs.ts';

/** a checkpoint's bytes in IndexedDB: parameters and Adam's two moments, the fire counters, the metric history */
function checkpointBytes(c: TrainConfig): number {
  const params = 2 * c.d * c.features + 2 * c.features + c.d;
  return 4 * (3 * params + 2 * c.features) + 64 * c.steps;
}

export const sweepApi: Pick<GpuApi, 'planSweep' | 'listSweeps' | 'putSweep' | 'evaluateRun'> = {
  async planSweep(datasetId, base, sizes, steps, sparsities) {
    const store = await getDatasets();
    const manifest = await store.get(datasetId);
    if (!manifest || manifest.status !== 'complete') throw new Error(`dataset ${datasetId} is not stored (or still importing)`);
    if (!sizes.length || !steps.length) throw new Error('a sweep needs at least one dictionary size and one step count');
    const knob = sparsityKnob(base.arch ?? 'standard');
    if (sparsities && (!sparsities.length || new Set(sparsities).size !== sparsities.length || sparsities.some((x) => !(x > 0) || (knob.option === 'k' && !Number.isSafeInteger(x))))) {
      throw new Error(`the sweep's ${knob.symbol} values must be distinct and positive${knob.option === 'k' ? ' whole numbers' : ''}, got ${sparsities.join(', ')}`);
    }
    const shape = { sizes, steps, ...(sparsities ? { sparsities } : {}) };
    const grid = sweepCells(shape).map((c) => defaultConfig({ ...cellConfig({ base }, c), d: manifest.d, seed: manifest.heldOut.seed }));
    const { device } = await getDevice();
    for (const cfg of grid) {
      if (keepsK(cfg.arch) && cfg.k > cfg.features) throw new Error(`the sweep's k = ${cfg.k} exceeds its size of ${cfg.features} features`);
      try {
        checkFits(cfg, device.limits);
      } catch (e) {
        if (e instanceof DoesNotFitError) throw new Error(`the sweep's run of ${cfg.features} features over d = ${cfg.d} (batch ${cfg.batch}) does not fit this GPU: ${e.message}`);
        throw e;
      }
    }
    const need = grid.reduce((a, c) => a + checkpointBytes(c), 0);
    await checkQuota(defaultStorage(), `a sweep of ${grid.length} runs (checkpoints of ${grid.map((c) => formatBytes(checkpointBytes(c))).join(', ')})`, need);
    const rec: SweepRecord = { id: crypto.randomUUID(), datasetId, datasetName: manifest.name, base, ...shape, status: 'running', created: Date.now() };
    await (await getRuns()).putSweep(rec);
    return rec;
  },

  async listSweeps() {
    return (await getRuns()).listSweeps();
  },

  async putSweep(rec) {
    await (await getRuns()).putSweep(rec);
  },

  async evaluateRun(runId) {
    const runs = await getRuns();
    const run = await runs.get(runId);
    const snap = run?.snapshot;
    if (!run || !snap) throw new Error(`run ${runId} has no checkpoint`);
    if (run.heldOut?.step === snap.step) return run.heldOut;
    const store = await getDatasets();
    const manifest = await store.get(run.datasetId);
    if (!manifest || manifest.status !== 'complete') throw new Error(`the dataset ${run.datasetName} is no longer stored: its held-out rows cannot be measured`);
    const { heldOut } = await store.split(manifest.id);
    const m = await evaluateOn(foldSae(snapshotParams(snap), snap.config, snap.stats.scale, {}, snap.state), await store.rowSource(manifest.id), heldOut);
    const measured: NonNullable<RunRecord['heldOut']> = { fvu: m.fvu, mse_per_token: m.mse_per_token, l0: m.l0, dead_frac_eval: m.dead_frac_eval, step: snap.step };
    // written onto the latest record: the run may have been touched since it was read
    const latest = await runs.get(runId);
    if (latest) await runs.put({ ...latest, heldOut: measured });
    return measured;
  },
};
