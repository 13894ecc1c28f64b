// The session's sweeps: a grid of runs over dictionary size × steps (× sparsity) on one dataset, checked whole
// by the GPU worker, then trained one run after another as ordinary checkpointed runs tagged with the sweep. A
// reload finds the tagged runs and goes on: the interrupted run resumes from its checkpoint, the rest follow.
// Each finished run's held-out metrics feed the scaling view (frontier, fit, best size, FVU against L0).
import { cellConfig, sweepCells, type SweepCell } from '../../data/runs.ts';
import { sparsityKnob } from '../../engine/config.ts';
import type { RunSummary, SweepRecord } from '../../worker/api.ts';
import { sparsityGroups, sweepRun, type SparsityGroup, type SweepRun } from '../scaling-figures.ts';
import type { SessionCore } from './core.ts';
import type { Datasets } from './datasets.ts';
import type { Training } from './training.ts';

export interface SweepView {
  sweep: SweepRecord;
  /** the finished runs, with their held-out metrics */
  runs: SweepRun[];
  /** per sparsity (one, unless the sweep varies it): its frontier, fit and best size at each compute */
  groups: SparsityGroup[];
  /** the cell training now */
  current?: SweepCell;
  total: number;
}

/** 'F=256, 500 steps', with ', k=16' where the sweep varies the sparsity */
export function cellLabel(sweep: SweepRecord, c: SweepCell): string {
  return `F=${c.features}, ${c.steps} steps${c.sparsity === undefined ? '' : `, ${sparsityKnob(sweep.base.arch ?? 'standard').symbol}=${c.sparsity}`}`;
}

export class Sweeps {
  /** the latest sweep, as the scaling view shows it */
  view: SweepView | undefined;
  /** why the last sweep asked for was not started */
  refused: string | undefined;
  private drivingNow = false;

  constructor(
    private readonly core: SessionCore,
    private readonly datasets: Datasets,
    private readonly training: Training,
  ) {}

  /** Checks the grid (refused with the sizes when it does not fit the GPU or the storage), then trains it. */
  async start(datasetId: string, base: SweepRecord['base'], sizes: number[], steps: number[], sparsities?: number[]): Promise<void> {
    this.refused = undefined;
    let sweep: SweepRecord;
    try {
      if (this.drivingNow || this.training.run?.status === 'running') throw new Error('a run is training; pause it or let it finish first');
      sweep = await this.core.gpu.planSweep(datasetId, base, sizes, steps, sparsities);
    } catch (e) {
      this.refused = `Sweep refused: ${(e as Error).message}`;
      this.core.changed();
      return;
    }
    await this.drive(sweep);
  }

  /**
   * After a reload: shows the latest sweep and, when the last visit left it training, goes on with it (true
   * then). A sweep the user paused waits for Resume sweep; one whose run keeps failing to resume is left.
   */
  async resumeLatest(): Promise<boolean> {
    const latest = (await this.core.gpu.listSweeps()).at(-1);
    if (!latest) return false;
    await this.training.refresh();
    const next = this.nextCell(latest);
    if (latest.status !== 'running' || next?.run?.status === 'paused' || (next?.run && !this.training.mayResumeByItself(next.run.id))) {
      await this.show(latest);
      return false;
    }
    void this.drive(latest);
    return true;
  }

  /** while a sweep trains, the page starts nothing else (the sweep would find its run slot taken) */
  get driving(): boolean {
    return this.drivingNow;
  }

  /** Goes on with a sweep the user paused. */
  async resume(): Promise<void> {
    if (this.view?.sweep.status === 'running') await this.drive(this.view.sweep);
  }

  private cellRun(sweep: SweepRecord, c: SweepCell): RunSummary | undefined {
    return this.training.runs.filter((r) => r.sweep?.id === sweep.id && r.sweep.features === c.features && r.sweep.steps === c.steps && r.sweep.sparsity === c.sparsity).at(-1);
  }

  /** the first cell not done, with its run if it has one */
  private nextCell(sweep: SweepRecord): (SweepCell & { run?: RunSummary }) | undefined {
    for (const c of sweepCells(sweep)) {
      const run = this.cellRun(sweep, c);
      if (run?.status !== 'done') return { ...c, run };
    }
    return undefined;
  }

  /** Trains the sweep's cells in order; one tab at a time (a Web Lock on the sweep), so no cell trains twice. */
  private async drive(sweep: SweepRecord): Promise<void> {
    if (this.drivingNow) return;
    if (!('locks' in navigator)) return this.driveLocked(sweep);
    await navigator.locks.request(`sae-lab-sweep:${sweep.id}`, { ifAvailable: true }, async (lock) => {
      if (lock) await this.driveLocked(sweep);
      else await this.show(sweep); // another tab is training it
    });
  }

  private async driveLocked(sweep: SweepRecord): Promise<void> {
    this.drivingNow = true;
    this.core.changed();
    // how it ended, as a new record: the view shows the old one until it has measured the last run
    let ended = sweep;
    try {
      for (const c of sweepCells(sweep)) {
        const before = this.cellRun(sweep, c);
        if (before?.status === 'done') continue;
        await this.checkDataset(sweep);
        await this.show(sweep, c);
        const started = before && before.status !== 'failed'
          ? await (before.status === 'running' ? this.training.resumeByItself(before) : this.training.resume(before.id))
          : await this.training.start(sweep.datasetId, cellConfig(sweep, c), { id: sweep.id, ...c });
        if (!started) return; // another run holds the GPU worker: the sweep waits for Resume sweep
        await this.training.refresh();
        // a run may finish on rows it had already read: the sweep still stops where its data went away
        await this.checkDataset(sweep);
        const after = this.cellRun(sweep, c);
        if (after?.status === 'done') continue;
        if (this.training.run?.status === 'failed' || !after) throw new Error(`the run of ${cellLabel(sweep, c)} failed: ${this.training.run?.error ?? 'it did not start'}`);
        return; // paused by the user: the sweep stays running, and Resume sweep goes on
      }
      ended = { ...sweep, status: 'done' };
      await this.core.gpu.putSweep(ended);
    } catch (e) {
      const done = this.training.runs.filter((r) => r.sweep?.id === sweep.id && r.status === 'done').length;
      const error = `${(e as Error).message}. The sweep stopped after ${done} of ${sweepCells(sweep).length} runs; the finished runs are kept.`;
      ended = { ...sweep, status: 'stopped', error };
      await this.core.gpu.putSweep(ended);
      this.core.say({ kind: 'error', text: `Sweep: ${error}` });
    } finally {
      this.drivingNow = false;
      await this.show(ended);
    }
  }

  private async checkDataset(sweep: SweepRecord): Promise<void> {
    await this.datasets.refresh();
    if (!this.datasets.list.some((d) => d.id === sweep.datasetId)) throw new Error(`the dataset '${sweep.datasetName}' was deleted during the sweep`);
  }

  /** the scaling view of the sweep's finished runs (their held-out metrics are measured once, then kept) */
  private async show(sweep: SweepRecord, current?: SweepView['current']): Promise<void> {
    const runs: SweepRun[] = [];
    for (const r of this.training.runs.filter((x) => x.sweep?.id === sweep.id && x.status === 'done')) {
      let held = r.heldOut;
      try {
        held ??= await this.core.gpu.evaluateRun(r.id);
      } catch (e) {
        // a dataset deleted mid-sweep is the sweep's own error; anything else is said here
        if (this.datasets.list.some((d) => d.id === r.datasetId)) this.core.say({ kind: 'error', text: `Sweep: ${(e as Error).message}` });
        continue;
      }
      if (held.fvu === null) continue; // the held-out rows do not vary: no FVU to plot
      runs.push(sweepRun(r.config, { ...held, fvu: held.fvu, seconds: (r.updated - r.created) / 1000 }, cellLabel(sweep, r.sweep!)));
    }
    this.view = { sweep, runs, current, total: sweepCells(sweep).length, groups: sparsityGroups(runs) };
    this.core.changed();
  }
}
