// The session: the one non-visual owner of the workers. Views get it as a property, call the methods of its
// parts (one per concern, in session/), and re-render on its 'change' events; nothing else in the page
// talks to a worker.
import { wrap, type Remote } from 'comlink';
import type { DataApi, GpuApi } from '../worker/api.ts';
import type { SessionCore } from './session/core.ts';
import { Datasets } from './session/datasets.ts';
import { Explorer } from './session/explorer.ts';
import { Features } from './session/features.ts';
import { LmLab } from './session/lm-lab.ts';
import { Saes } from './session/saes.ts';
import { Training } from './session/training.ts';
import { Sweeps } from './session/sweeps.ts';

export { LM_DEMO, type ImportState } from './session/datasets.ts';
export { quickDemoConfig, type ComparedRun, type DictionaryMap, type RunState } from './session/training.ts';
export type { FeatureView } from './session/features.ts';
export { cellLabel, type SweepView } from './session/sweeps.ts';
export type { ExploreState } from './session/explorer.ts';
export type { LmLabState, SteerRequest } from './session/lm-lab.ts';

export class SaeSession extends EventTarget implements SessionCore {
  readonly data: Remote<DataApi>;
  readonly gpu: Remote<GpuApi>;
  /** the last error or notice, shown to the user */
  message: { kind: 'error' | 'info'; text: string } | undefined;
  readonly datasets: Datasets;
  readonly training: Training;
  readonly sweeps: Sweeps;
  readonly saes: Saes;
  readonly features: Features;
  readonly explorer: Explorer;
  readonly lm: LmLab;
  readonly ready: Promise<void>;
  /** true once a sweep or run the last visit left training has gone on by itself */
  readonly resumed: Promise<boolean>;

  /** `tuner: false`: runs skip the start-up tuner and take the default GEMM kernels */
  constructor(o: { tuner?: boolean } = {}) {
    super();
    this.data = wrap<DataApi>(new Worker(new URL('../worker/data-worker.ts', import.meta.url), { type: 'module' }));
    this.gpu = wrap<GpuApi>(new Worker(new URL('../worker/gpu-worker.ts', import.meta.url), { type: 'module' }));
    // sent first, so that it holds for every run, those the session resumes by itself included
    if (o.tuner === false) void this.gpu.useTuner(false);
    this.datasets = new Datasets(this);
    this.training = new Training(this, this.datasets);
    this.sweeps = new Sweeps(this, this.datasets, this.training);
    this.saes = new Saes(this, this.datasets);
    this.features = new Features(this);
    this.explorer = new Explorer(this);
    this.lm = new LmLab(this, this.datasets);
    this.ready = this.data.start().then(() => Promise.all([this.datasets.refresh(), this.datasets.refreshModels()])).then(() => undefined);
    void this.training.refresh();
    void this.saes.refresh();
    // what the last visit left training goes on by itself, from its checkpoint: a sweep, else a run
    this.resumed = this.ready.then(async () => (await this.sweeps.resumeLatest()) || this.training.resumeInterrupted());
  }

  /**
   * Every SAE a panel can open, as `kind:id` values with labels: runs with a checkpoint (those harvested from a
   * language model's hook alone, with `fromModel`), then the imported SAELens SAEs.
   */
  saeChoices(o: { fromModel?: boolean } = {}): { value: string; label: string }[] {
    const hooked = (datasetId: string) => !!this.datasets.list.find((d) => d.id === datasetId)?.source.provenance?.hook_name;
    return [
      ...this.training.runs.filter((r) => r.step > 0 && (!o.fromModel || hooked(r.datasetId))).map((r) => ({ value: `run:${r.id}`, label: `run: ${r.config.arch} F=${r.config.features} on ${r.datasetName} (step ${r.step})` })),
      ...this.saes.list.map((x) => ({ value: `imported:${x.id}`, label: `SAELens: ${x.name}` })),
    ];
  }

  changed(): void {
    this.dispatchEvent(new Event('change'));
  }

  say(message: SaeSession['message']): void {
    this.message = message;
    this.changed();
  }

  /**
   * The presenter's one click: the language-model demo's dataset (harvested now unless already stored; the
   * sentence encoder's where the build has no built-in model), then the quick demo on it, sized to train for
   * about `seconds`. Resolves once training has started.
   */
  async presentDemo(seconds?: number): Promise<void> {
    await this.ready;
    const ds = await this.datasets.demoDataset();
    if (ds) void this.training.quickDemo(ds.id, seconds);
  }
}
