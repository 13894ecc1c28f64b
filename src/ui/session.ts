// The session: the one non-visual owner of the workers. Views get it as a property, call its methods,
// and re-render on its 'change' events; nothing else in the page talks to a worker.
import { proxy, wrap, type Remote } from 'comlink';
import type { DataApi, DatasetManifest, GpuApi, ImportProgress, ImportSummary, StepMetrics, ToyOptions, TrainConfig, TrainProgress } from '../worker/api.ts';

export interface ImportState {
  file: string;
  progress: ImportProgress;
}

export interface RunState {
  datasetId: string;
  config: Omit<Partial<TrainConfig>, 'd'>;
  status: 'running' | 'done' | 'stopped' | 'failed';
  step: number;
  steps: number;
  /** every step's metrics so far, in order */
  history: StepMetrics[];
  tokensPerS: number;
  error?: string;
}

export class SaeSession extends EventTarget {
  run: RunState | undefined;
  datasets: DatasetManifest[] = [];
  /** true once the store is open, cleaned of killed imports, and listed */
  loaded = false;
  importing: ImportState | undefined;
  /** the last error or notice, shown to the user */
  message: { kind: 'error' | 'info'; text: string } | undefined;
  private readonly data: Remote<DataApi>;
  private readonly gpu: Remote<GpuApi>;
  readonly ready: Promise<void>;

  constructor() {
    super();
    this.data = wrap<DataApi>(new Worker(new URL('../worker/data-worker.ts', import.meta.url), { type: 'module' }));
    this.gpu = wrap<GpuApi>(new Worker(new URL('../worker/gpu-worker.ts', import.meta.url), { type: 'module' }));
    this.ready = this.data.start().then(() => this.refresh());
  }

  private changed(): void {
    this.dispatchEvent(new Event('change'));
  }

  async refresh(): Promise<void> {
    this.datasets = await this.data.list();
    this.loaded = true;
    this.changed();
  }

  importFile(file: File): Promise<ImportSummary | undefined> {
    return this.runImport(file.name, (onProgress) => this.data.importFile(file, onProgress));
  }

  /** The built-in demo with known ground truth: toy superposition data made in the worker. */
  createToyDataset(): Promise<ImportSummary | undefined> {
    const opts: ToyOptions = { d: 64, features: 256, rows: 32768, seed: 0 };
    return this.runImport('toy superposition', (onProgress) => this.data.createToyDataset(opts, onProgress));
  }

  private async runImport(
    name: string,
    work: (onProgress: (p: ImportProgress) => void) => Promise<ImportSummary>,
  ): Promise<ImportSummary | undefined> {
    this.importing = { file: name, progress: { rowsDone: 0, rows: 0 } };
    this.message = undefined;
    this.changed();
    try {
      const summary = await work(proxy((p: ImportProgress) => {
        this.importing = { file: name, progress: p };
        this.changed();
      }));
      this.message = { kind: 'info', text: [`Imported ${summary.dataset.name}: ${summary.dataset.rows} rows × ${summary.dataset.d}.`, ...summary.notes].join(' ') };
      return summary;
    } catch (e) {
      this.message = { kind: 'error', text: (e as Error).message };
      return undefined;
    } finally {
      this.importing = undefined;
      await this.refresh();
    }
  }

  cancelImport(): void {
    void this.data.cancelImport();
  }

  async rename(id: string, name: string): Promise<void> {
    await this.data.rename(id, name);
    await this.refresh();
  }

  async remove(id: string): Promise<void> {
    await this.data.remove(id);
    await this.refresh();
  }

  /** Trains on a stored dataset in the GPU worker; resolves when the run ends. */
  async startRun(datasetId: string, config: RunState['config']): Promise<void> {
    if (this.run?.status === 'running') return;
    const run: RunState = { datasetId, config, status: 'running', step: 0, steps: config.steps ?? 0, history: [], tokensPerS: 0 };
    this.run = run;
    this.changed();
    try {
      const outcome = await this.gpu.train({ datasetId, config }, proxy((p: TrainProgress) => {
        run.step = p.step;
        run.steps = p.steps;
        run.history = run.history.concat(p.metrics); // a new array, so views see the change
        run.tokensPerS = p.tokensPerS;
        this.changed();
      }));
      run.status = outcome.stopped ? 'stopped' : 'done';
    } catch (e) {
      run.status = 'failed';
      run.error = (e as Error).message;
    }
    this.changed();
  }

  stopRun(): void {
    void this.gpu.stop();
  }

  async exportNpy(id: string): Promise<{ npy: Uint8Array; sidecar?: Uint8Array }> {
    return this.data.exportNpy(id);
  }
}
