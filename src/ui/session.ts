// The session: the one non-visual owner of the workers. Views get it as a property, call its methods,
// and re-render on its 'change' events; nothing else in the page talks to a worker.
import { proxy, wrap, type Remote } from 'comlink';
import { defaultConfig } from '../engine/config.ts';
import type { HarvestLayer } from '../data/harvest/model.ts';
import type {
  DataApi, DatasetManifest, ModelHarvestRequest, ModelSummary, DensityHistogram, EvalMetrics, GpuApi, ImportProgress, ImportSummary, RunSummary, SaeSummary, StepMetrics, StreamStats, ToyOptions,
  Attribution, BornFeature, ExploreApi, Fidelity, SplitView, FeatureCard, FeatureJobProgress, FeatureTable, InterventionEffect, NormHistogram, TokenReading, TrainOutcome, TrainProgress, TrainRequest, UmapApi,
} from '../worker/api.ts';

export interface ImportState {
  file: string;
  progress: ImportProgress;
}

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

/** The explorer's state: one SAE spliced into the real model, one sentence, and the last intervention. */
export interface ExploreState {
  label: string;
  layer: HarvestLayer;
  busy: boolean;
  error?: string;
  text?: string;
  reading?: TokenReading;
  /** the feature picked on a token */
  feature?: number;
  effect?: { what: string; feature: number; result: InterventionEffect };
  attribution?: Attribution;
  fidelity?: Fidelity;
}

/** The feature explorer: one SAE's feature table over a dataset, its sort and search, and an open card. */
export interface FeatureView {
  kind: 'run' | 'imported';
  id: string;
  label: string;
  job?: FeatureJobProgress;
  table?: FeatureTable;
  sort: 'density' | 'max' | 'purity';
  /** a token to search the features' top tokens for, e.g. ' Paris' */
  query: string;
  card?: FeatureCard;
  error?: string;
  /** the SAE's dictionary map, coloured by the table's densities */
  map?: DictionaryMap;
  /** features in the last lasso on the map */
  lasso?: number[];
  /** feature splitting against another SAE */
  split?: SplitView;
}

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

/** the language-model demo: the built-in model's residual stream halfway through its 4 blocks */
export const LM_DEMO = { model: 'builtin', hook: 'blocks.2.hook_resid_pre', tokens: 20_000 } as const;

export class SaeSession extends EventTarget {
  run: RunState | undefined;
  /** every stored run, oldest first */
  runs: RunSummary[] = [];
  /** runs chosen to be compared side by side, in the order chosen */
  compared: ComparedRun[] = [];
  /** SAEs imported from SAELens, and the last evaluation of each */
  saes: SaeSummary[] = [];
  evaluations: Record<string, { dataset: string; metrics?: EvalMetrics; error?: string }> = {};
  datasets: DatasetManifest[] = [];
  /** the built-in language model and those stored in this browser */
  models: ModelSummary[] = [];
  /** true while a picked model folder is being checked and stored */
  addingModel = false;
  /** true once the store is open, cleaned of killed imports, and listed */
  loaded = false;
  importing: ImportState | undefined;
  /** the last error or notice, shown to the user */
  message: { kind: 'error' | 'info'; text: string } | undefined;
  private readonly data: Remote<DataApi>;
  private readonly gpu: Remote<GpuApi>;
  private umap: Remote<UmapApi> | undefined;
  /** the feature explorer's own UMAP worker: a layout of the live training views must not cancel its map */
  private featureUmap: Remote<UmapApi> | undefined;
  private explorer: Remote<ExploreApi> | undefined;
  exploring: ExploreState | undefined;
  readonly ready: Promise<void>;

  constructor() {
    super();
    this.data = wrap<DataApi>(new Worker(new URL('../worker/data-worker.ts', import.meta.url), { type: 'module' }));
    this.gpu = wrap<GpuApi>(new Worker(new URL('../worker/gpu-worker.ts', import.meta.url), { type: 'module' }));
    this.ready = this.data.start().then(() => Promise.all([this.refresh(), this.refreshModels()])).then(() => undefined);
    void this.refreshRuns();
  }

  private changed(): void {
    this.dispatchEvent(new Event('change'));
  }

  async refresh(): Promise<void> {
    this.datasets = await this.data.list();
    this.loaded = true;
    this.changed();
  }

  /** One activation file (optionally with its .jsonl sidecar), or the shards of an Arrow cache. */
  importFiles(files: File[]): Promise<ImportSummary | undefined> {
    const label = files[0]?.webkitRelativePath.split('/')[0] || files.map((f) => f.name).join(' + ');
    return this.runImport(label, (onProgress) => this.data.importFiles(files, onProgress));
  }

  /** Activations of the real model on the user's own text, one document per paragraph. */
  createTextDataset(text: string, name: string): Promise<ImportSummary | undefined> {
    return this.runImport(name || 'my text', (onProgress) => this.data.createTextDataset({ text, name, layer: 'resid0' }, onProgress));
  }

  async refreshModels(): Promise<void> {
    this.models = await this.data.listModels();
    this.changed();
  }

  /** Adds a Hugging Face model folder the user picked (or its files), checked whole before it is stored. */
  async addModel(files: File[]): Promise<ModelSummary | undefined> {
    this.message = undefined;
    this.addingModel = true;
    this.changed();
    try {
      const m = await this.data.addModel(files);
      this.message = { kind: 'info', text: `Added the model ${m.name}: ${m.family}, ${m.shape}, ${(m.bytes / 2 ** 20).toFixed(1)} MiB stored in this browser.` };
      return m;
    } catch (e) {
      this.message = { kind: 'error', text: (e as Error).message };
      return undefined;
    } finally {
      this.addingModel = false;
      await this.refreshModels();
    }
  }

  async removeModel(id: string): Promise<void> {
    await this.data.removeModel(id);
    await this.refreshModels();
  }

  /** A hook of a language model over the built-in corpus (or the user's text), stored as a dataset. */
  createModelDataset(req: ModelHarvestRequest): Promise<ImportSummary | undefined> {
    const model = this.models.find((m) => m.id === req.model)?.name ?? req.model;
    return this.runImport(`${model} ${req.hook}`, (onProgress) => this.data.createModelDataset(req, onProgress));
  }

  /** The language-model demo's dataset: the built-in model's middle residual stream over Brown and code. */
  createLmDemoDataset(): Promise<ImportSummary | undefined> {
    return this.createModelDataset({ ...LM_DEMO });
  }

  /** The built-in demo with known ground truth: toy superposition data made in the worker. */
  createToyDataset(): Promise<ImportSummary | undefined> {
    const opts: ToyOptions = { d: 64, features: 256, rows: 32768, seed: 0 };
    return this.runImport('toy superposition', (onProgress) => this.data.createToyDataset(opts, onProgress));
  }

  /** The built-in demo on real activations: USE-lite's residual stream after layer 0 over Brown text. */
  createBrownDataset(tokens = 20_000): Promise<ImportSummary | undefined> {
    return this.runImport('Brown corpus', (onProgress) => this.data.createBrownDataset({ layer: 'resid0', tokens }, onProgress));
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

  async refreshRuns(): Promise<void> {
    this.runs = await this.gpu.listRuns();
    this.saes = await this.gpu.listSaes();
    this.changed();
  }

  /** Imports a SAELens SAE (a .zip of its folder, or its files). */
  async importSae(files: File[]): Promise<void> {
    try {
      const sae = await this.gpu.importSae(files);
      this.message = { kind: 'info', text: `Imported SAE ${sae.name}: ${sae.arch}, d_in=${sae.d}, ${sae.features} features.` };
    } catch (e) {
      this.message = { kind: 'error', text: (e as Error).message };
    }
    await this.refreshRuns();
  }

  async evaluateSae(saeId: string, datasetId: string, rows: 'held-out' | 'all'): Promise<void> {
    const dataset = this.datasets.find((d) => d.id === datasetId)?.name ?? datasetId;
    this.evaluations = { ...this.evaluations, [saeId]: { dataset } };
    this.changed();
    try {
      this.evaluations = { ...this.evaluations, [saeId]: { dataset, metrics: await this.gpu.evaluateSae(saeId, datasetId, rows) } };
    } catch (e) {
      this.evaluations = { ...this.evaluations, [saeId]: { dataset, error: (e as Error).message } };
    }
    this.changed();
  }

  /** Trains a new run on a stored dataset in the GPU worker; resolves when the run ends or pauses. */
  startRun(datasetId: string, config: TrainRequest['config']): Promise<void> {
    return this.follow({ status: 'running', step: 0, steps: config.steps ?? 0, history: [], tokensPerS: 0, born: [], bornTotal: 0, speed: [] }, (onProgress) =>
      this.gpu.train({ datasetId, config }, onProgress),
    );
  }

  /**
   * The quick demo: a TopK SAE sized to the dataset, with as many steps as this adapter runs in about
   * `seconds` (measured on a few steps first), so features visibly form within a couple of minutes.
   */
  async quickDemo(datasetId: string, seconds = 120): Promise<void> {
    const ds = this.datasets.find((x) => x.id === datasetId);
    if (!ds || this.run?.status === 'running') return;
    const config = quickDemoConfig(ds.d);
    this.run = { status: 'running', step: 0, steps: 0, history: [], tokensPerS: 0, born: [], bornTotal: 0, speed: [], notice: 'measuring this adapter’s speed…' };
    this.changed();
    const ms = await this.gpu.measureStep(defaultConfig({ ...config, d: ds.d }));
    const steps = Math.max(100, Math.min(5000, Math.floor((seconds * 1000) / ms)));
    this.run = undefined;
    await this.startRun(datasetId, { ...config, steps });
  }

  /**
   * The presenter's one click: the language-model demo's dataset (harvested now unless already stored; the
   * sentence encoder's where the build has no built-in model), then the quick demo on it. Resolves once training has started.
   */
  async presentDemo(): Promise<void> {
    await this.ready;
    const lm = this.models.some((m) => m.id === LM_DEMO.model);
    const isDemo = (x: DatasetManifest) =>
      x.source.kind === 'harvest' && (lm ? x.source.provenance?.hook_name === LM_DEMO.hook && x.source.provenance?.model_name === 'builtin-lm' && x.rows === LM_DEMO.tokens : x.name.startsWith('Brown corpus'));
    let ds = this.datasets.find(isDemo);
    // a build without the built-in language model falls back to the sentence encoder
    if (!ds) ds = (await (lm ? this.createLmDemoDataset() : this.createBrownDataset()))?.dataset;
    if (ds) void this.quickDemo(ds.id);
  }

  /** Continues a paused or interrupted run from its last checkpoint. */
  async resumeRun(runId: string): Promise<void> {
    const summary = this.runs.find((r) => r.id === runId);
    const history = await this.gpu.runHistory(runId);
    const steps = summary?.config.steps ?? 0;
    return this.follow({ runId, status: 'running', step: history.length, steps, history, tokensPerS: 0, born: [], bornTotal: 0, speed: [] }, (onProgress) =>
      this.gpu.resume(runId, onProgress),
    );
  }

  /** The run's SAE, SAELens layout, zipped. */
  exportSae(runId: string): Promise<{ name: string; zip: Uint8Array }> {
    return this.gpu.exportSae(runId);
  }

  /** Destroys the GPU worker's device, as a driver reset would (tests exercise the recovery with it). */
  /** Makes imports meet a full disk from chunk `chunk` on (null: normal storage again); for tests. */
  failStorageAt(chunk: number | null): Promise<void> {
    return this.data.failStorageAt(chunk);
  }

  loseDevice(): Promise<void> {
    return this.gpu.loseDevice();
  }

  /** SHA-256 of a run's checkpointed parameters. */
  paramsDigest(runId: string): Promise<string | null> {
    return this.gpu.paramsDigest(runId);
  }

  private async follow(run: RunState, work: (onProgress: (p: TrainProgress) => void) => Promise<TrainOutcome>): Promise<void> {
    if (this.run?.status === 'running') return;
    this.run = run;
    this.changed();
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
        this.changed();
      }));
      run.runId = outcome.runId;
      run.status = outcome.stopped ? 'paused' : 'done';
    } catch (e) {
      run.status = 'failed';
      run.error = (e as Error).message;
    }
    await this.refreshRuns();
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
    this.umap ??= wrap<UmapApi>(new Worker(new URL('../worker/umap-worker.ts', import.meta.url), { type: 'module' }));
    try {
      const previous = run.map?.F === n.graph.F ? run.map.xy : undefined;
      const xy = await this.umap.layout(n.graph, { seed: 0, previous });
      run.map = { step: n.step, F: n.graph.F, xy, density: n.density, refreshes: (run.map?.refreshes ?? 0) + 1 };
      this.changed();
    } catch (e) {
      // the feature explorer's map shares the UMAP worker and may have cancelled this one: the next will do
      if ((e as Error).name !== 'AbortError') run.notice = `the dictionary map could not be drawn: ${(e as Error).message}`;
    } finally {
      this.mapping = false;
      const next = this.nextMap;
      this.nextMap = undefined;
      if (next) void this.layoutMap(next.run, next.n);
    }
  }

  private mapping = false;
  private nextMap: { run: RunState; n: NonNullable<TrainProgress['neighbours']> } | undefined;

  featureView: FeatureView | undefined;

  /** Opens an SAE in the feature explorer, with its stored table if it has one. */
  async openFeatures(kind: 'run' | 'imported', id: string, label: string): Promise<void> {
    const view: FeatureView = { kind, id, label, sort: 'density', query: '' };
    this.featureView = view;
    this.changed();
    view.table = (await this.gpu.featureTable(kind, id)) ?? undefined;
    this.changed();
    if (view.table) await this.layoutFeatureMap(view);
  }

  /** the open SAE's map: neighbours on the GPU, UMAP in its worker, coloured by the table's densities */
  private async layoutFeatureMap(view: FeatureView): Promise<void> {
    try {
      const graph = await this.gpu.saeNeighbours(view.kind, view.id);
      this.featureUmap ??= wrap<UmapApi>(new Worker(new URL('../worker/umap-worker.ts', import.meta.url), { type: 'module' }));
      const xy = await this.featureUmap.layout(graph, { seed: 0 });
      const density = Float32Array.from(view.table!.features, (f) => Math.log10(f.density + 1e-10));
      view.map = { step: -1, F: graph.F, xy, density, refreshes: 1 };
    } catch (e) {
      view.error = `the map could not be drawn: ${(e as Error).message}`;
    }
    this.changed();
  }

  /** Links the open SAE's features with another SAE's (same activations, another size) by decoder cosine. */
  async splitWith(kind: 'run' | 'imported', id: string): Promise<void> {
    const view = this.featureView;
    if (!view) return;
    try {
      view.split = await this.gpu.splitFeatures({ kind: view.kind, id: view.id }, { kind, id });
    } catch (e) {
      view.error = (e as Error).message;
    }
    this.changed();
  }

  setLasso(features: number[]): void {
    if (!this.featureView) return;
    this.featureView.lasso = features;
    this.changed();
  }

  /** Computes the open SAE's feature statistics over a dataset's held-out rows (progress; cancellable). */
  async computeFeatures(datasetId: string): Promise<void> {
    const view = this.featureView;
    if (!view || view.job) return;
    view.job = { fraction: 0, stage: 'starting' };
    view.error = undefined;
    this.changed();
    try {
      view.table = await this.gpu.computeFeatures(view.kind, view.id, datasetId, proxy((p: FeatureJobProgress) => {
        view.job = p;
        this.changed();
      }));
      view.card = undefined;
      void this.layoutFeatureMap(view);
    } catch (e) {
      view.error = (e as Error).name === 'AbortError' || /abort/i.test((e as Error).message) ? 'cancelled; nothing was stored' : (e as Error).message;
    } finally {
      view.job = undefined;
      this.changed();
    }
  }

  /** The open SAE's feature data as static JSON (zipped), with the job's progress shown like the statistics'. */
  async exportFeatures(): Promise<{ name: string; zip: Uint8Array } | undefined> {
    const view = this.featureView;
    if (!view || view.job) return undefined;
    view.job = { fraction: 0, stage: 'exporting' };
    view.error = undefined;
    this.changed();
    try {
      return await this.gpu.exportFeatures(view.kind, view.id, proxy((p: FeatureJobProgress) => {
        view.job = p;
        this.changed();
      }));
    } catch (e) {
      view.error = (e as Error).message;
      return undefined;
    } finally {
      view.job = undefined;
      this.changed();
    }
  }

  cancelFeatures(): void {
    void this.gpu.cancelFeatures();
  }

  setFeatureQuery(query: string, sort?: FeatureView['sort']): void {
    if (!this.featureView) return;
    this.featureView.query = query;
    if (sort) this.featureView.sort = sort;
    this.changed();
  }

  async openCard(feature: number): Promise<void> {
    const view = this.featureView;
    if (!view) return;
    try {
      view.card = await this.gpu.featureCard(view.kind, view.id, feature);
    } catch (e) {
      view.error = (e as Error).message;
    }
    this.changed();
  }

  /** What the last "time it" measured, for the form's configuration on this adapter. */
  timeEstimate: string | undefined;

  /** Times a few training steps of `config` on this adapter and says how long the run would take. */
  async estimateTime(datasetId: string, config: TrainRequest['config']): Promise<void> {
    const ds = this.datasets.find((x) => x.id === datasetId);
    if (!ds) return;
    this.timeEstimate = 'timing…';
    this.changed();
    try {
      const full = defaultConfig({ ...config, d: ds.d });
      const ms = await this.gpu.measureStep(full);
      const total = (ms * full.steps) / 1000;
      const when = total < 90 ? `${total.toFixed(0)} s` : total < 5400 ? `${(total / 60).toFixed(1)} min` : `${(total / 3600).toFixed(1)} h`;
      this.timeEstimate = `≈ ${ms < 1000 ? `${ms.toFixed(0)} ms` : `${(ms / 1000).toFixed(1)} s`}/step → ${when} for ${full.steps} steps here`;
    } catch (e) {
      this.timeEstimate = `cannot time it: ${(e as Error).message}`;
    }
    this.changed();
  }

  /** Splices a run's SAE (or an imported one) into the real model in the explore worker. */
  async exploreSae(kind: 'run' | 'imported', id: string, label: string): Promise<void> {
    const { sae, layer } = await this.gpu.saeWeights(kind, id);
    if (!layer) {
      this.exploring = undefined;
      this.message = { kind: 'error', text: `${label}: its data did not come from the shipped model (no USE-lite layer in its name or hook), so it cannot be spliced in` };
      this.changed();
      return;
    }
    this.exploring = { label, layer, busy: true };
    this.changed();
    this.explorer ??= wrap<ExploreApi>(new Worker(new URL('../worker/explore-worker.ts', import.meta.url), { type: 'module' }));
    await this.explore(() => this.explorer!.setSae(sae, layer));
  }

  /** The features active on each token of `text`. */
  readSentence(text: string): Promise<void> {
    return this.explore(async () => {
      const reading = await this.explorer!.read(text);
      Object.assign(this.exploring!, { text, reading, feature: undefined, effect: undefined, attribution: undefined });
    });
  }

  pickFeature(feature: number): void {
    if (!this.exploring) return;
    this.exploring.feature = feature;
    this.changed();
  }

  /**
   * Ablates the picked feature (sets it to 0 on every token) or steers it (clamps it on every token to
   * `multiple` × its largest activation on the sentence), and reports what the model's output does.
   */
  intervene(mode: 'ablate' | 'steer', multiple = 4): Promise<void> {
    return this.explore(async () => {
      const ex = this.exploring!;
      const f = ex.feature!;
      const max = ex.reading!.maxAct[f]!;
      const value = mode === 'ablate' ? 0 : multiple * max;
      const result = await this.explorer!.intervene(ex.text!, [{ feature: f, value }]);
      const what = mode === 'ablate' ? `ablated #${f} (set to 0)` : `steered #${f} to ${multiple}× its max here (${value.toPrecision(3)})`;
      ex.effect = { what, feature: f, result };
    });
  }

  /** Downstream fidelity of the SAE being explored (RECIPE §3), on sentences from the end of the corpus. */
  measureFidelity(sentences = 64): Promise<void> {
    return this.explore(async () => {
      this.exploring!.fidelity = await this.explorer!.fidelity(sentences);
    });
  }

  /** Every shown token × feature's contribution to the output (along it, or toward a target sentence). */
  attribute(target?: string): Promise<void> {
    return this.explore(async () => {
      const ex = this.exploring!;
      ex.attribution = await this.explorer!.attribute(ex.text!, ex.reading!, target);
    });
  }

  private async explore(work: () => Promise<void>): Promise<void> {
    const ex = this.exploring;
    if (!ex) return;
    ex.busy = true;
    ex.error = undefined;
    this.changed();
    try {
      await work();
    } catch (e) {
      ex.error = (e as Error).message;
    } finally {
      ex.busy = false;
      this.changed();
    }
  }

  /** Adds a stored run to the side-by-side comparison, or takes it out. */
  async toggleCompare(runId: string): Promise<void> {
    if (this.compared.some((r) => r.id === runId)) {
      this.compared = this.compared.filter((r) => r.id !== runId);
    } else {
      const r = this.runs.find((x) => x.id === runId);
      if (!r) return;
      const label = `${r.config.arch} F=${r.config.features} ${r.config.arch === 'topk' ? `k=${r.config.k}` : `λ=${r.config.l1}`} lr=${r.config.lr} · ${r.datasetName}`;
      this.compared = [...this.compared, { id: runId, label, history: await this.gpu.runHistory(runId) }];
    }
    this.changed();
  }

  /** Pauses the run in progress after a checkpoint; resumeRun continues it. */
  pauseRun(): void {
    void this.gpu.stop();
  }

  async exportNpy(id: string): Promise<{ npy: Uint8Array; sidecar?: Uint8Array }> {
    return this.data.exportNpy(id);
  }
}
