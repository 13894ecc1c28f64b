// Training runs in IndexedDB (through idb): each run's configuration, its metric history and its latest
// checkpoint (the trainer's snapshot), so a reload, a crashed worker or a lost device loses at most the
// steps since the last checkpoint; and SAEs imported from SAELens. A separate database from the datasets,
// so their schemas move apart.
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import { sparsityKnob, type TrainConfig } from '../engine/config.ts';
import { formLabel, type SaeWeights } from '../engine/sae.ts';
import type { StepMetrics, TrainerSnapshot } from '../engine/run-state.ts';
import type { FeatureStats } from '../engine/feature-stats.ts';
import type { FeatureTable } from '../analysis/feature-card.ts';
import type { LabelMass } from '../analysis/labels.ts';
import type { ClassifierScores, FireCounts } from '../analysis/probe.ts';

export interface RunRecord {
  id: string;
  datasetId: string;
  datasetName: string;
  config: TrainConfig;
  /** 'running' when the tab that trained it went away without pausing: it can be resumed */
  status: 'running' | 'paused' | 'done' | 'failed';
  /** steps in the checkpoint */
  step: number;
  /** metrics of steps [0, step) */
  history: StepMetrics[];
  snapshot: TrainerSnapshot | null;
  created: number;
  updated: number;
  error?: string;
  /** the sweep this run is one cell of */
  sweep?: { id: string; features: number; steps: number; sparsity?: number };
  /** held-out metrics of the finished run (RECIPE §3), measured once, at `step` */
  heldOut?: HeldOutMetrics & { step: number };
}

/** the held-out metrics a sweep's scaling view plots */
export interface HeldOutMetrics {
  fvu: number | null;
  mse_per_token: number;
  l0: number;
  dead_frac_eval: number;
}

/**
 * A grid of runs over dictionary size × steps (× sparsity) on one dataset, with the settings they share. Its
 * runs are ordinary runs tagged with the sweep (RunRecord.sweep), so a reload finds them and goes on where it
 * stopped.
 */
export interface SweepRecord {
  id: string;
  datasetId: string;
  datasetName: string;
  /** the settings every run shares (the train form's), without features and steps */
  base: Omit<Partial<TrainConfig>, 'd' | 'features' | 'steps'>;
  sizes: number[];
  steps: number[];
  /** values of the architecture's sparsity setting (k, l1 or l0) the grid runs over too; absent: base's one */
  sparsities?: number[];
  /** 'running' until every cell is done; 'stopped' with the reason when a run failed or the data went away */
  status: 'running' | 'done' | 'stopped';
  error?: string;
  created: number;
}

/** one run of a sweep's grid */
export interface SweepCell {
  features: number;
  steps: number;
  /** the value of the architecture's sparsity setting, where the sweep varies it */
  sparsity?: number;
}

/** the sweep's cells in the order they train: by size, then steps, then sparsity */
export function sweepCells(s: Pick<SweepRecord, 'sizes' | 'steps' | 'sparsities'>): SweepCell[] {
  return s.sizes.flatMap((features) => s.steps.flatMap((steps) => (s.sparsities ?? [undefined]).map((sparsity) => (sparsity === undefined ? { features, steps } : { features, steps, sparsity }))));
}

/** a cell's configuration: the sweep's shared settings with the cell's size, steps and sparsity */
export function cellConfig(s: Pick<SweepRecord, 'base'>, c: SweepCell): Omit<Partial<TrainConfig>, 'd'> {
  return { ...s.base, features: c.features, steps: c.steps, ...(c.sparsity === undefined ? {} : { [sparsityKnob(s.base.arch ?? 'standard').option]: c.sparsity }) };
}

/** A run without its (large) snapshot, for lists. */
export type RunSummary = Omit<RunRecord, 'snapshot' | 'history'> & { lastLoss: number | null };

/** An SAE brought in from elsewhere (a SAELens folder or zip), kept to evaluate and explore. */
export interface SaeRecord {
  id: string;
  name: string;
  sae: SaeWeights;
  created: number;
}

/** The feature explorer's statistics of one SAE (a run's at a step, or an imported one) over a dataset. */
export interface FeatureRecord {
  /** 'run:<id>' or 'imported:<id>' */
  key: string;
  /** the run's step the SAE was taken at (imported: 0) */
  step: number;
  table: FeatureTable;
  stats: FeatureStats;
  /** per feature and label, when the dataset has labels */
  labelMass: LabelMass | null;
  /** per label, a linear probe's held-out scores; per feature and label, the rows it fires on */
  probes: { scores: ClassifierScores[]; fires: FireCounts } | null;
  created: number;
}

interface RunsSchema extends DBSchema {
  runs: { key: string; value: RunRecord };
  saes: { key: string; value: SaeRecord };
  features: { key: string; value: FeatureRecord };
  sweeps: { key: string; value: SweepRecord };
}

export const RUNS_DB = 'sae-lab-runs';

export class RunStore {
  private constructor(private readonly db: IDBPDatabase<RunsSchema>) {}

  static async open(name = RUNS_DB): Promise<RunStore> {
    const db = await openDB<RunsSchema>(name, 4, {
      upgrade(d, oldVersion) {
        if (oldVersion < 1) d.createObjectStore('runs', { keyPath: 'id' });
        if (oldVersion < 2) d.createObjectStore('saes', { keyPath: 'id' });
        if (oldVersion < 3) d.createObjectStore('features', { keyPath: 'key' });
        if (oldVersion < 4) d.createObjectStore('sweeps', { keyPath: 'id' });
      },
    });
    return new RunStore(db);
  }

  async put(run: RunRecord): Promise<void> {
    await this.db.put('runs', { ...run, updated: Date.now() });
  }

  get(id: string): Promise<RunRecord | undefined> {
    return this.db.get('runs', id);
  }

  async list(): Promise<RunSummary[]> {
    const all = await this.db.getAll('runs');
    return all
      .sort((a, b) => a.created - b.created)
      .map(({ snapshot: _s, history, ...rest }) => ({ ...rest, lastLoss: history[history.length - 1]?.loss ?? null }));
  }

  delete(id: string): Promise<void> {
    return this.db.delete('runs', id);
  }

  async putSweep(rec: SweepRecord): Promise<void> {
    await this.db.put('sweeps', rec);
  }

  getSweep(id: string): Promise<SweepRecord | undefined> {
    return this.db.get('sweeps', id);
  }

  async listSweeps(): Promise<SweepRecord[]> {
    return (await this.db.getAll('sweeps')).sort((a, b) => a.created - b.created);
  }

  async putFeatures(rec: FeatureRecord): Promise<void> {
    await this.db.put('features', rec);
  }

  getFeatures(key: string): Promise<FeatureRecord | undefined> {
    return this.db.get('features', key);
  }

  async putSae(rec: SaeRecord): Promise<void> {
    await this.db.put('saes', rec);
  }

  getSae(id: string): Promise<SaeRecord | undefined> {
    return this.db.get('saes', id);
  }

  async listSaes(): Promise<{ id: string; name: string; arch: string; d: number; features: number; created: number }[]> {
    const all = await this.db.getAll('saes');
    return all.sort((a, b) => a.created - b.created).map(({ id, name, sae, created }) => ({ id, name, arch: formLabel(sae), d: sae.d, features: sae.features, created }));
  }
}
