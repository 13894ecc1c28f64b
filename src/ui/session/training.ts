// The session's training: the run in progress (its metrics, live views and dictionary map), starting,
// resuming and pausing runs, the quick demo sized to this adapter's speed, the stored runs and the
// side-by-side comparison of their losses.
import { proxy, wrap, type Remote } from 'comlink';
import { defaultConfig, keepsK } from '../../engine/config.ts';
import type { BornFeature, DensityHistogram, NormHistogram, RunSummary, StepMetrics, StreamStats, TrainOutcome, TrainProgress, TrainRequest, UmapApi } from '../../worker/api.ts';
import type { SessionCore } from './core.ts';
import type { Datasets } from './datasets.ts';

export interface RunState {
  /** set once the worker has created the run */
  runId?: string;
  status: 'running' | 'done' | 'paused' | 'failed';
  step: number;
  steps: number;
  /** every step's metrics so far, in order */
  history: StepMetrics[];
  tokensPerS: number;
  error?: string;
  /** e.g. that the device was lost and the run resumed from a checkpoint */
  notice?: string;
  /** the GEMM kernels the run uses on this adapter */
  kernels?: string;
  /** the latest feature-density histogram (one per checkpoint) */
  density?: DensityHistogram;
  /** the data stream from IndexedDB: rows/s delivered and training's wait for it */
  stream?: StreamStats;
  /** the decoder-norm histogram at the latest checkpoint */
  decoderNorms?: NormHistogram;
  /** the dictionary map: UMAP of the decoder directions, and each feature's log10 density, at `step` */
  map?: DictionaryMap;
  /** born features, latest first (at most BORN_KEPT), and how many have been born in all */
  born: BornFeature[];
  bornTotal: number;
  /** tokens/s as reported during this session's training, by step */
  speed: { step: number; tokensPerS: number }[];
}

const BORN_KEPT = 36;
/** sessionStorage key prefix: how often this tab has resumed a run by itself */
const AUTO_RESUMED = 'sae-lab-auto-resumed:';
const MAX_AUTO_RESUMES = 2;

/** a stored run shown beside others: its label and loss history */
export interface ComparedRun {
  id: string;
  label: string;
  history: StepMetrics[];
}

export interface DictionaryMap {
  step: number;
  F: number;
  /** (F, 2) */
  xy: Float32Array;
  /** (F) log10 density over the checkpoint interval before `step` */
  density: Float32Array;
  /** maps laid out so far in this run */
  refreshes: number;
}

/** The quick demo's SAE for rows of width d: 2·d features (at most 1024), TopK with k = 16 (8 when d < 64). */
export function quickDemoConfig(d: number): TrainRequest['config'] {
  return { arch: 'topk', features: Math.min(1024, 2 * d), k: d < 64 ? 8 : 16, batch: 128, lr: 3e-3 };
}

const freshRun = (steps: number): RunState => ({ status: 'running', step: 0, steps, history: [], tokensPerS: 0, born: [], bornTotal: 0, speed: [] });

export class Training {
  run: RunState | undefined;
  /** every stored run, oldest first */
  runs: RunSummary[] = [];
  /** runs chosen to be compared side by side, in the order chosen */
  compared: ComparedRun[] = [];
  /** the hand-over export in progress: which run, and the fraction of its dataset written */
  handover: { runId: string; fraction: number } | null = null;
  /** What the last "time it" measured, for the form's configuration on this adapter. */
  timeEstimate: string | undefined;
  private umap: Remote<UmapApi> | undefined;
  private mapping = false;
  private nextMap: { run: RunState; n: NonNullable<TrainProgress['neighbours']> } | undefined;

  constructor(
    private readonly core: SessionCore,
    private readonly datasets: Datasets,
  ) {}

  async refresh(): Promise<void> {
    this.runs = await this.core.gpu.listRuns();
    this.core.changed();
  }

  /**
   * Trains a new run on a stored dataset in the GPU worker; resolves when the run ends or pauses (false
   * without starting when a run is training already).
   */
  start(datasetId: string, config: TrainRequest['config'], sweep?: TrainRequest['sweep']): Promise<boolean> {
    return this.follow(freshRun(config.steps ?? 0), (onProgress) => this.core.gpu.train({ datasetId, config, ...(sweep ? { sweep } : {}) }, onProgress));
  }

  /**
   * The quick demo: a TopK SAE sized to the dataset, with as many steps as this adapter runs in about
   * `seconds` (measured on a few steps first), so features visibly form within a couple of minutes.
   */
  async quickDemo(datasetId: string, seconds = 120): Promise<void> {
    const ds = this.datasets.list.find((x) => x.id === datasetId);
    if (!ds || this.run?.status === 'running') return;
    const config = quickDemoConfig(ds.d);
    this.run = { ...freshRun(0), notice: 'measuring this adapter’s speed…' };
    this.core.changed();
    const ms = await this.core.gpu.measureStep(defaultConfig({ ...config, d: ds.d }));
    const steps = Math.max(100, Math.min(5000, Math.floor((seconds * 1000) / ms)));
    this.run = undefined;
    await this.start(datasetId, { ...config, steps });
  }

  /** Continues a paused or interrupted run from its last checkpoint (false when a run is training already). */
  async resume(runId: string, notice?: string): Promise<boolean> {
    const summary = this.runs.find((r) => r.id === runId);
    const history = await this.core.gpu.runHistory(runId);
    const steps = summary?.config.steps ?? 0;
    return this.follow({ ...freshRun(steps), runId, step: history.length, history, notice }, (onProgress) => this.core.gpu.resume(runId, onProgress));
  }

  /**
   * After a reload or a crash of the page: the newest run the last visit left training (not paused) goes on by
   * itself from its checkpoint (true when there was one). One another tab is training is left to it.
   */
  async resumeInterrupted(): Promise<boolean> {
    await this.refresh();
    const r = [...this.runs].reverse().find((x) => x.status === 'running');
    if (!r || this.run?.status === 'running' || !this.mayResumeByItself(r.id)) return false;
    void this.resumeByItself(r).then(() => {
      if (this.run?.error?.includes('another tab')) {
        this.run = undefined;
        this.core.changed();
      }
    });
    return true;
  }

  /**
   * A run interrupted by a reload or a crash resumed without a click, saying so. A run that keeps taking the
   * page down as it resumes is not resumed by itself a third time in this tab: it waits for its Resume button.
   */
  resumeByItself(r: RunSummary): Promise<boolean> {
    const key = AUTO_RESUMED + r.id;
    sessionStorage.setItem(key, String(Number(sessionStorage.getItem(key) ?? 0) + 1));
    return this.resume(r.id, `the page was reloaded or crashed mid-run: resumed by itself from its checkpoint at step ${r.step}`);
  }

  mayResumeByItself(runId: string): boolean {
    const ok = Number(sessionStorage.getItem(AUTO_RESUMED + runId) ?? 0) < MAX_AUTO_RESUMES;
    if (!ok) this.core.say({ kind: 'error', text: `A run was interrupted ${MAX_AUTO_RESUMES} times as it resumed; it was not resumed again by itself (its Resume button continues it).` });
    return ok;
  }

  /** Pauses the run in progress after a checkpoint; resume continues it. */
  pause(): void {
    void this.core.gpu.stop();
  }

  /** The run as a folder SAELens continues (docs/HANDOVER.md), zipped; progress in `handover`. */
  async exportScale(runId: string): Promise<{ name: string; blob: Blob }> {
    this.handover = { runId, fraction: 0 };
    this.core.changed();
    try {
      return await this.core.gpu.exportScale(runId, proxy((fraction: number) => {
        this.handover = { runId, fraction };
        this.core.changed();
      }));
    } finally {
      this.handover = null;
      this.core.changed();
    }
  }

  /** Stops the export for SAELens in progress; its exportScale then rejects with an AbortError. */
  cancelExportScale(): void {
    void this.core.gpu.cancelExportScale();
  }

  /** The run's SAE, SAELens layout, zipped. */
  exportSae(runId: string): Promise<{ name: string; zip: Uint8Array }> {
    return this.core.gpu.exportSae(runId);
  }

  /** SHA-256 of a run's checkpointed parameters. */
  paramsDigest(runId: string): Promise<string | null> {
    return this.core.gpu.paramsDigest(runId);
  }

  /** Times a few training steps of `config` on this adapter and says how long the run would take. */
  async estimateTime(datasetId: string, config: TrainRequest['config']): Promise<void> {
    const ds = this.datasets.list.find((x) => x.id === datasetId);
    if (!ds) return;
    this.timeEstimate = 'timing…';
    this.core.changed();
    try {
      const full = defaultConfig({ ...config, d: ds.d });
      const ms = await this.core.gpu.measureStep(full);
      const total = (ms * full.steps) / 1000;
      const when = total < 90 ? `${total.toFixed(0)} s` : total < 5400 ? `${(total / 60).toFixed(1)} min` : `${(total / 3600).toFixed(1)} h`;
      this.timeEstimate = `≈ ${ms < 1000 ? `${ms.toFixed(0)} ms` : `${(ms / 1000).toFixed(1)} s`}/step → ${when} for ${full.steps} steps here`;
    } catch (e) {
      this.timeEstimate = `cannot time it: ${(e as Error).message}`;
    }
    this.core.changed();
  }

  /** Adds a stored run to the side-by-side comparison, or takes it out. */
  async toggleCompare(runId: string): Promise<void> {
    if (this.compared.some((r) => r.id === runId)) {
      this.compared = this.compared.filter((r) => r.id !== runId);
    } else {
      const r = this.runs.find((x) => x.id === runId);
      if (!r) return;
      const label = `${r.config.arch} F=${r.config.features} ${keepsK(r.config.arch) ? `k=${r.config.k}` : r.config.arch === 'jumprelu' ? `c=${r.config.l0} ${r.config.jumpMode}` : `λ=${r.config.l1}`} lr=${r.config.lr} · ${r.datasetName}`;
      this.compared = [...this.compared, { id: runId, label, history: await this.core.gpu.runHistory(runId) }];
    }
    this.core.changed();
  }

  private async follow(run: RunState, work: (onProgress: (p: TrainProgress) => void) => Promise<TrainOutcome>): Promise<boolean> {
    if (this.run?.status === 'running') return false;
    this.run = run;
    this.core.changed();
    try {
      const outcome = await work(proxy((p: TrainProgress) => {
        run.runId = p.runId;
        if (p.history) {
          run.history = p.history;
          run.step = p.step;
        }
        if (p.notice) run.notice = p.notice;
        if (p.kernels) run.kernels = p.kernels;
        if (p.density) run.density = p.density;
        run.step = Math.max(run.step, p.step);
        run.steps = p.steps;
        if (p.metrics.length) run.history = run.history.concat(p.metrics); // a new array, so views see the change
        if (p.tokensPerS) {
          run.tokensPerS = p.tokensPerS;
          run.speed = [...run.speed, { step: p.step, tokensPerS: p.tokensPerS }];
        }
        if (p.stream) run.stream = p.stream;
        if (p.decoderNorms) run.decoderNorms = p.decoderNorms;
        if (p.neighbours) void this.layoutMap(run, p.neighbours);
        if (p.born) {
          run.born = [...p.born.shown, ...run.born].slice(0, BORN_KEPT);
          run.bornTotal += p.born.total;
        }
        this.core.changed();
      }));
      run.runId = outcome.runId;
      run.status = outcome.stopped ? 'paused' : 'done';
    } catch (e) {
      run.status = 'failed';
      run.error = (e as Error).message;
    }
    await this.refresh();
    return true;
  }

  /**
   * Lays out the dictionary map in the UMAP worker from the GPU's neighbour graph, starting from the last
   * map so it drifts rather than jumps. A layout in progress is let finish (so the map does refresh); graphs
   * that arrive meanwhile wait, and only the latest of them is laid out next.
   */
  private async layoutMap(run: RunState, n: NonNullable<TrainProgress['neighbours']>): Promise<void> {
    if (this.mapping) {
      this.nextMap = { run, n };
      return;
    }
    this.mapping = true;
    this.umap ??= wrap<UmapApi>(new Worker(new URL('../../worker/umap-worker.ts', import.meta.url), { type: 'module' }));
    try {
      const previous = run.map?.F === n.graph.F ? run.map.xy : undefined;
      const xy = await this.umap.layout(n.graph, { seed: 0, previous });
      run.map = { step: n.step, F: n.graph.F, xy, density: n.density, refreshes: (run.map?.refreshes ?? 0) + 1 };
      this.core.changed();
    } catch (e) {
      if ((e as Error).name !== 'AbortError') run.notice = `the dictionary map could not be drawn: ${(e as Error).message}`;
    } finally {
      this.mapping = false;
      const next = this.nextMap;
      this.nextMap = undefined;
      if (next) void this.layoutMap(next.run, next.n);
    }
  }
}
