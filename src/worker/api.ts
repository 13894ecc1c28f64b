// The one contract between the page and its workers: plain typed interfaces, exposed with comlink.
// Only structured-cloneable values cross (Files are cloneable; progress comes back through a proxied callback).
import type { DensityHistogram } from '../analysis/density.ts';
import type { NormHistogram } from '../analysis/decoder-norms.ts';
import type { BornFeature } from '../analysis/born.ts';
import type { Attribution, InterventionEffect, TokenReading } from '../analysis/explore.ts';
import type { FeatureEdit, Fidelity } from '../analysis/splice.ts';
import type { FeatureCard, FeatureTable } from '../analysis/feature-card.ts';
import type { SplitCounts, SplitFamily } from '../analysis/splitting.ts';
import type { FeatureJobProgress } from './feature-job.ts';
import type { LogitEffects } from '../model/logit-effects.ts';
import type { FeatureOnText } from '../model/feature-effects.ts';
import type { SteerResult } from '../model/steering.ts';
import type { NextTokenAttribution } from '../model/attribution.ts';
import type { SpliceFidelity } from '../model/sae-fidelity.ts';
import type { ConceptResult } from '../model/concept.ts';
import type { SaeWeights } from '../engine/sae.ts';
import type { LayoutOptions, LayoutProgress, NeighbourGraph } from '../analysis/umap-layout.ts';
import type { HeldOutMetrics, RunSummary, SweepRecord } from '../data/runs.ts';
import type { StreamStats } from '../data/prefetch.ts';
import type { DatasetManifest } from '../data/store.ts';
import type { ModelSummary } from '../model/model-store.ts';
import type { HarvestLayer } from '../data/harvest/model.ts';
import type { TrainConfig } from '../engine/config.ts';
import type { EvalMetrics } from '../engine/evaluate.ts';
import type { StepMetrics } from '../engine/run-state.ts';

export type { ModelSummary };
export type { HeldOutMetrics, SweepRecord };
export type { Attribution, Fidelity, BornFeature, FeatureCard, FeatureJobProgress, FeatureTable, FeatureEdit, InterventionEffect, SaeWeights, TokenReading, DatasetManifest, DensityHistogram, EvalMetrics, LayoutOptions, LayoutProgress, NeighbourGraph, NormHistogram, RunSummary, StepMetrics, StreamStats, TrainConfig };

export interface SaeSummary {
  id: string;
  name: string;
  arch: string;
  d: number;
  features: number;
  created: number;
}

export interface ImportProgress {
  rowsDone: number;
  rows: number;
  /** what the work is doing now, e.g. 'harvesting (6,200 tokens/s)' */
  stage?: string;
}

export interface ImportSummary {
  dataset: DatasetManifest;
  /** human-readable remarks (skipped rows, a replaced dataset, storage persistence) */
  notes: string[];
}

export interface ToyOptions {
  d: number;
  /** true directions F* */
  features: number;
  rows: number;
  seed: number;
}

/** A harvest of a language model into a dataset: a hook of the built-in model ('builtin') or a stored one. */
export interface ModelHarvestRequest {
  model: string;
  hook: string;
  tokens: number;
  /** tokens per sequence, BOS included (default 128, or the model's positions if fewer) */
  context?: number;
  /** the user's text instead of the built-in corpus (one document per paragraph), and its name */
  text?: string;
  textName?: string;
}

/** The data worker: owns the IndexedDB dataset store; parses and imports files off the main thread. */
export interface DataApi {
  /** Removes what killed imports left behind; call once at start-up, before anything else. */
  start(): Promise<{ removedPending: number }>;
  /**
   * Imports activations: one .npy or .safetensors file (with its .jsonl token sidecar, if chosen too), or the
   * .arrow shards (+ dataset_info.json, state.json) of a SAELens cache. Rejects naming the file and problem.
   */
  importFiles(files: File[], onProgress: (p: ImportProgress) => void): Promise<ImportSummary>;
  /** Generates toy superposition data with known directions (RECIPE §4) and stores it as a dataset. */
  createToyDataset(opts: ToyOptions, onProgress: (p: ImportProgress) => void): Promise<ImportSummary>;
  /**
   * The real-model demo: harvests `tokens` activations of USE-lite's `layer` over the Brown corpus in this
   * worker (TF.js WASM) and stores them with their token context (pieces, Brown and universal POS tags).
   */
  createBrownDataset(opts: { layer: HarvestLayer; tokens: number }, onProgress: (p: ImportProgress) => void): Promise<ImportSummary>;
  /** Harvests every token of a user's text (a document per paragraph) from USE-lite's `layer` and stores it. */
  createTextDataset(opts: { text: string; name: string; layer: HarvestLayer }, onProgress: (p: ImportProgress) => void): Promise<ImportSummary>;
  /** The built-in language model (when the build has it) and the models stored in this browser. */
  listModels(): Promise<ModelSummary[]>;
  /**
   * Adds a Hugging Face model folder (the folder, or its files): refused naming the file and the problem —
   * a missing or malformed file, a missing or mis-shaped tensor, an unsupported family or option, too large
   * for this device — before anything is stored.
   */
  addModel(files: File[]): Promise<ModelSummary>;
  removeModel(id: string): Promise<boolean>;
  /** Harvests a hook of a language model on this worker's WebGPU device and stores the rows as a dataset. */
  createModelDataset(req: ModelHarvestRequest, onProgress: (p: ImportProgress) => void): Promise<ImportSummary>;
  /**
   * From now on, imports meet a full disk (the browser's own QuotaExceededError) when they write chunk
   * `chunk`; null restores normal storage. For tests of failure handling: the browser offers no way to
   * shrink a page's real quota mid-import.
   */
  failStorageAt(chunk: number | null): void;
  /** Cancels the import in progress, if any; it then rejects and leaves nothing behind. */
  cancelImport(): void;
  list(): Promise<DatasetManifest[]>;
  rename(id: string, name: string): Promise<DatasetManifest>;
  remove(id: string): Promise<boolean>;
  /** The dataset as .npy bytes (f16 stays f16) and its JSONL sidecar when it has token context. */
  exportNpy(id: string): Promise<{ npy: Uint8Array; sidecar?: Uint8Array }>;
}

/** What a run trains: a stored dataset and the run's configuration (d comes from the dataset). */
export interface TrainRequest {
  datasetId: string;
  config: Omit<Partial<TrainConfig>, 'd'>;
  /** the sweep cell this run is (its runs are found by this tag after a reload) */
  sweep?: { id: string; features: number; steps: number; sparsity?: number };
}

export interface TrainProgress {
  runId: string;
  /** steps submitted so far */
  step: number;
  steps: number;
  /** metrics of the steps that came back since the last report, in order */
  metrics: StepMetrics[];
  tokensPerS: number;
  /** set when the run went back to a checkpoint: the whole history up to it, replacing what was reported */
  history?: StepMetrics[];
  /** something the user should be told, e.g. that the device was lost and the run resumed */
  notice?: string;
  /** the GEMM variant each of the step's GEMMs runs (the start-up tuner's choice, or the snapshot's) */
  kernels?: string;
  /** feature density over the steps since the previous checkpoint */
  density?: DensityHistogram;
  /** the data stream from IndexedDB since the run (re)started: rows/s delivered, and training's wait */
  stream?: StreamStats;
  /** ‖W_dec,i‖ over the features, at the checkpoint */
  decoderNorms?: NormHistogram;
  /** the decoder directions' neighbour graph (computed on the GPU) for the dictionary map, and each feature's log10 density since the previous checkpoint */
  neighbours?: { step: number; graph: NeighbourGraph; density: Float32Array };
  /** features that first fired since the previous checkpoint: how many, and the most active with their top tokens */
  born?: { step: number; total: number; shown: BornFeature[] };
}

export interface TrainOutcome {
  runId: string;
  steps: number;
  stopped: boolean;
  seconds: number;
}

/** The GPU worker: owns the one GPUDevice and runs training jobs on it. */
export interface GpuApi {
  /** The adapter's description, or a clear message when this browser has no WebGPU. */
  init(): Promise<{ adapter: string }>;
  /** Off: new runs skip the start-up tuner and take every GEMM's default variant (the CLI's --no-tune). */
  useTuner(on: boolean): void;
  /** Starts a new run and trains until its steps are done or stop() is called; checkpoints as it goes. */
  train(req: TrainRequest, onProgress: (p: TrainProgress) => void): Promise<TrainOutcome>;
  /** Continues a paused or interrupted run from its last checkpoint, exactly as if never interrupted. */
  resume(runId: string, onProgress: (p: TrainProgress) => void): Promise<TrainOutcome>;
  /** Milliseconds per training step of this configuration on this adapter (a few steps on random rows). */
  measureStep(config: TrainConfig): Promise<number>;
  /** Pauses the run in progress after a checkpoint. */
  stop(): void;
  listRuns(): Promise<RunSummary[]>;
  /**
   * Checks a sweep before its first run — every configuration against this GPU's limits, all its
   * checkpoints against the browser's storage, refusing with the sizes — and stores it.
   */
  planSweep(datasetId: string, base: SweepRecord['base'], sizes: number[], steps: number[], sparsities?: number[]): Promise<SweepRecord>;
  listSweeps(): Promise<SweepRecord[]>;
  putSweep(sweep: SweepRecord): Promise<void>;
  /** a finished run's held-out metrics (measured once, then kept with the run) */
  evaluateRun(runId: string): Promise<HeldOutMetrics & { step: number }>;
  /** The metric history of a stored run. */
  runHistory(runId: string): Promise<StepMetrics[]>;
  /**
   * The run's SAE at its last checkpoint, saved the SAELens way (cfg.json, sae_weights.safetensors in raw
   * units, sparsity.safetensors from the training fire counts) and zipped in a folder named `name`.
   */
  exportSae(runId: string): Promise<{ name: string; zip: Uint8Array }>;
  /**
   * The run at its last checkpoint as a folder SAELens continues (docs/HANDOVER.md): its dataset as an
   * activation cache, the weights in SAELens's training form, the runner config, train_sae.py and a README,
   * and, for rows harvested from a language model still in this browser, the model's folder, the text and a
   * config that streams from the model; zipped in a folder `name`. onProgress gets the fraction of the
   * dataset's rows written.
   */
  exportScale(runId: string, onProgress: (fraction: number) => void): Promise<{ name: string; blob: Blob }>;
  /** Cancels the export for SAELens in progress, if any; it then rejects with an AbortError. */
  cancelExportScale(): void;
  /** Imports a SAELens SAE: a .zip of its folder, or the folder's files (cfg.json + sae_weights.safetensors). */
  importSae(files: File[]): Promise<SaeSummary>;
  listSaes(): Promise<SaeSummary[]>;
  /** RECIPE §3 metrics of an imported SAE on a stored dataset: its held-out rows, or all rows. */
  evaluateSae(saeId: string, datasetId: string, rows: 'held-out' | 'all'): Promise<EvalMetrics>;
  /**
   * The SAE of a run at its last checkpoint (raw units) or an imported one, with the model layer its data
   * was harvested from (null when the data did not come from the shipped model).
   */
  saeWeights(kind: 'run' | 'imported', id: string): Promise<{ sae: SaeWeights; layer: HarvestLayer | null; label: string }>;
  /**
   * The feature explorer's statistics of an SAE over a dataset's held-out rows (a GPU job: progress,
   * cancellable), stored with the SAE; resolves to the feature table.
   */
  computeFeatures(kind: 'run' | 'imported', id: string, datasetId: string, onProgress: (p: FeatureJobProgress) => void): Promise<FeatureTable>;
  /**
   * The SAE's feature data as static JSON for a dashboard, zipped in a folder `name`: index.json and
   * features/<i>.json (a GPU job: progress, cancellable by cancelFeatures).
   */
  exportFeatures(kind: 'run' | 'imported', id: string, onProgress: (p: FeatureJobProgress) => void): Promise<{ name: string; zip: Uint8Array }>;
  /** the decoder directions' neighbour graph of an SAE (GPU), for its map */
  saeNeighbours(kind: 'run' | 'imported', id: string): Promise<NeighbourGraph>;
  /**
   * Feature splitting between two SAEs of the same activations: each feature of the larger linked to its
   * nearest of the smaller by decoder cosine; the families of ≥ 2 children, largest first (at most 40).
   */
  splitFeatures(a: { kind: 'run' | 'imported'; id: string }, b: { kind: 'run' | 'imported'; id: string }): Promise<SplitView>;
  /** Cancels the statistics job in progress; it rejects with an AbortError and stores nothing. */
  cancelFeatures(): void;
  /** the stored feature table of an SAE, if computed */
  featureTable(kind: 'run' | 'imported', id: string): Promise<FeatureTable | null>;
  /** one feature's card: examples in context, histogram, neighbours, encoder–decoder cosine, labels */
  featureCard(kind: 'run' | 'imported', id: string, feature: number): Promise<FeatureCard>;
  /** SHA-256 of a run's checkpointed parameters (to compare runs bit for bit). */
  paramsDigest(runId: string): Promise<string | null>;
}

// The UMAP worker (src/worker/umap-worker.ts): lays out the dictionary map on the CPU from the decoder
// directions' neighbour graph, which the GPU computes (src/engine/neighbours.ts).

export interface UmapApi {
  /**
   * The map: F×2 coordinates (x then y per feature), the same for the same graph and seed. Starting a new
   * layout cancels the one in progress, which then rejects with an AbortError.
   */
  layout(knn: NeighbourGraph, opts: LayoutOptions, onProgress?: (p: LayoutProgress) => void): Promise<Float32Array>;
  /** Cancels the layout in progress, if any; it then rejects with an AbortError. */
  cancel(): void;
}

/** feature splitting as the page shows it */
export interface SplitView {
  small: string;
  large: string;
  threshold: number;
  counts: SplitCounts;
  families: SplitFamily[];
}

// The explore worker (src/worker/explore-worker.ts): the real model with one SAE spliced in, for one sentence
// at a time: the features active on each token, and the effect of ablating or steering one.
export interface ExploreApi {
  /** the SAE to splice in, at the layer its activations came from; loads the model */
  setSae(sae: SaeWeights, layer: HarvestLayer): Promise<void>;
  read(text: string): Promise<TokenReading>;
  intervene(text: string, edits: FeatureEdit[]): Promise<InterventionEffect>;
  /** RECIPE §3 downstream fidelity of the SAE on the last `sentences` sentences of the Brown corpus */
  fidelity(sentences: number): Promise<Fidelity>;
  /** each token's shown features' contributions to the output along the clean output or toward `target`, by exact differences */
  attribute(text: string, reading: TokenReading, target?: string): Promise<Attribution>;
}

/** One feature of the SAE open in the language-model worker: what it does in the model. */
export interface LmFeatureView {
  feature: number;
  logits: LogitEffects;
  onText: FeatureOnText;
}

/** The language-model worker (src/worker/lm-worker.ts): the seed's experiments with an SAE spliced into a causal model. */
export interface LmApi {
  /** Loads the model (cached) and splices the SAE in at its hook; refuses an SAE that cannot read the model, warns about one trained on another. */
  open(req: { model: string; modelName: string; sae: SaeWeights; saeLabel: string }): Promise<{ hook: string; warning?: string }>;
  /** The prompt continued by the clean model and with the feature edited at each strength (cancellable). */
  steer(req: { prompt: string; feature: number; mode: 'add' | 'clamp'; strengths: number[]; tokens: number; sample?: { seed: number; temperature: number } }): Promise<SteerResult>;
  feature(feature: number): Promise<LmFeatureView>;
  attribute(prompt: string, target: string): Promise<NextTokenAttribution & { tokens: string[]; targetToken: string }>;
  fidelity(tokens: number, onProgress: (done: number, total: number) => void): Promise<Omit<SpliceFidelity, 'documents'>>;
  concept(forTexts: string[], against: string[]): Promise<ConceptResult>;
  cancel(): void;
}
