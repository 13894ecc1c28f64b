// sae-lab train: stream an activation file through the GPU trainer, then evaluate on the held-out rows
// and write the SAE the SAELens way, with metrics.json beside it.
import { createBatchSource } from '../data/batches.ts';
import { encodeSaelens } from '../data/formats/saelens.ts';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { HARVEST_LAYERS, type HarvestLayer } from '../data/harvest/model.ts';
import { measureFidelity } from './fidelity.ts';
import { documentRule, heldOutRule, rowsInRanges, splitRows, type DocumentRule, type HeldOutRule } from '../data/split.ts';
import { estimateDataStats, refuseNonFinite } from '../data/stats.ts';
import type { RowSource } from '../data/sources.ts';
import { checkMatryoshkaWidths, deadSteps, defaultConfig, keepsK, type DataStats, type TrainConfig } from '../engine/config.ts';
import { ARCH_STEPS, archNamed } from '../engine/steps/index.ts';
import { runnerPlan, type EvalMetrics } from '../engine/evaluate.ts';
import { initParams } from '../engine/init.ts';
import { checkFits } from '../engine/memory.ts';
import { requestNodeDevice } from '../engine/node-device.ts';
import { Trainer } from '../engine/trainer.ts';
import type { StepMetrics } from '../engine/run-state.ts';
import { trainSteps, trainStepsTogether } from '../engine/train-loop.ts';
import { describeTuning, tuneStep, type TunerCache } from '../engine/tuner.ts';
import { fileTunerCache, tunerCachePath } from './tuner-cache.ts';
import type { SaeWeights } from '../engine/sae.ts';
import { CliError, intListOption, intOption, numberOption, required, type Command } from './args.ts';
import { openActivations } from './data.ts';
import { evaluateSae } from './sae-folder.ts';
import { checkOutDir, writeFolder } from './output.ts';

export interface TrainResult {
  sae: SaeWeights;
  metrics: Record<string, unknown>;
  density: Float64Array;
  history: StepMetrics[];
}

export interface TrainRunOptions {
  rows: RowSource;
  config: TrainConfig;
  rule: HeldOutRule | DocumentRule;
  /** (rows) document ids, required by a document rule */
  docs?: Int32Array;
  device: GPUDevice;
  adapter: string;
  /** the start-up tuner's cache; null: no tuning, every GEMM takes its default variant */
  tunerCache: TunerCache | null;
  onProgress?: (step: number, last: StepMetrics | undefined, tokensPerS: number) => void;
  /** the training rows' statistics, when the caller has them (a sweep estimates them once for all its runs) */
  stats?: DataStats;
}

/** The whole run on an opened row source: split, scale, train, fold, evaluate on held-out rows. */
export async function trainOnRows(o: TrainRunOptions): Promise<TrainResult> {
  const run = await startRun(o);
  try {
    let lastReport = performance.now();
    const t0 = lastReport;
    const cfg = o.config;
    await trainSteps({
      trainer: run.trainer, batches: run.batches, steps: cfg.steps,
      afterStep: (done) => {
        const now = performance.now();
        if (o.onProgress && (now - lastReport > 1000 || done === cfg.steps)) {
          lastReport = now;
          o.onProgress(done, run.last(), (done * cfg.batch) / ((now - t0) / 1000));
        }
      },
    });
    return await finishRun(o, run, (performance.now() - t0) / 1000);
  } finally {
    run.trainer.destroy();
  }
}

/**
 * Runs that share their batches (one batch size and seed: a sweep's grid) trained side by side, one pass over
 * the data for all (engine/train-loop.ts trainStepsTogether); each ends exactly as it would alone. A run's
 * `seconds` is the group's wall time until its last step, the others' steps included.
 */
export async function trainSideBySide(o: Omit<TrainRunOptions, 'config' | 'onProgress'> & { configs: TrainConfig[]; onProgress?: (step: number, steps: number) => void }): Promise<TrainResult[]> {
  const [head] = o.configs;
  if (!head || o.configs.some((c) => c.batch !== head.batch || c.seed !== head.seed)) throw new Error('side-by-side runs must share their batch size and seed');
  const runs: StartedRun[] = [];
  const { configs, onProgress, ...shared } = o;
  try {
    for (const cfg of configs) runs.push(await startRun({ ...shared, config: cfg }));
    const end = Math.max(...o.configs.map((c) => c.steps));
    let lastReport = performance.now();
    const { seconds } = await trainStepsTogether({
      runs: runs.map((r, i) => ({ trainer: r.trainer, steps: o.configs[i]!.steps })), batches: runs[0]!.batches,
      afterStep: (done) => {
        if (onProgress && (performance.now() - lastReport > 1000 || done === end)) {
          lastReport = performance.now();
          onProgress(done, end);
        }
      },
    });
    const out: TrainResult[] = [];
    for (const [i, r] of runs.entries()) out.push(await finishRun({ ...shared, config: configs[i]! }, r, seconds[i]!));
    return out;
  } finally {
    for (const r of runs) r.trainer.destroy();
  }
}

interface StartedRun {
  trainer: Trainer;
  batches: ReturnType<typeof createBatchSource>;
  split: ReturnType<typeof splitRows>;
  stats: DataStats;
  tuning: Awaited<ReturnType<typeof tuneStep>> | undefined;
  last(): StepMetrics | undefined;
}

/** split, statistics, batches, kernels and the initialised trainer of one run */
async function startRun(o: TrainRunOptions): Promise<StartedRun> {
  const { rows, device, config: cfg } = o;
  checkFits(cfg, device.limits);
  runnerPlan(cfg.d, cfg.features, device.limits);
  const split = splitRows(rows.rows, o.rule, rows.name, o.docs);
  const stats = o.stats ?? (await estimateDataStats(rows, split.trainBlocks));
  const batches = createBatchSource(rows, split.trainBlocks, cfg.batch, cfg.seed);
  let last: StepMetrics | undefined;
  const tuning = o.tunerCache ? await tuneStep(device, o.adapter, cfg, o.tunerCache) : undefined;
  if (tuning) {
    const from = tuning.cached === tuning.gemms.length ? 'cached' : `tuned in ${(tuning.ms / 1000).toFixed(1)} s`;
    process.stderr.write(`GEMM kernels (${from}):\n${describeTuning(tuning).map((l) => `  ${l}\n`).join('')}`);
  }
  const trainer = Trainer.create(device, cfg, stats, initParams(cfg, stats), { metricsEvery: 25, onMetrics: (r) => (last = r[r.length - 1]), gemms: tuning?.choices });
  return { trainer, batches, split, stats, tuning, last: () => last };
}

/** the trained run folded to raw units, evaluated on the held-out rows, with its metrics */
async function finishRun(o: TrainRunOptions, run: StartedRun, seconds: number): Promise<TrainResult> {
  const { rows, device, config: cfg } = o;
  const { trainer, split, stats, tuning } = run;
  const history = await trainer.flushMetrics();
  const sae = await trainer.exportSae();
  const { lastFired } = await trainer.readFireStats();
  const window = deadSteps(cfg);
  const deadTrain = lastFired.filter((s) => cfg.steps - s >= window).length / cfg.features;
  const evalResult = await evaluateSae(device, sae, rows, split.heldOut);
  const { density, ...evalMetrics } = evalResult;
  const tokens = cfg.steps * cfg.batch;
  const metrics = {
    ...evalMetrics,
    dead_frac_train: deadTrain,
    mse_note: 'mse_per_token = mean over held-out tokens of ‖x − x̂‖² in raw units: SAELens 6 training mse_loss (summed over d, averaged over tokens); its run_evals "mse" also divides each token by the evaluation batch\'s token count',
    steps: cfg.steps,
    tokens,
    seconds,
    tokens_per_s: tokens / seconds,
    final_train_loss: history[history.length - 1]?.loss ?? null,
    adapter: o.adapter,
    kernels: trainer.variants,
    ...(tuning ? { tuning: describeTuning(tuning) } : {}),
    held_out: { ...o.rule, rows: rowsInRanges(split.heldOut) },
    seed: cfg.seed,
    data: { name: rows.name, rows: rows.rows, d: rows.d, input_scale: stats.scale },
    config: cfg,
  };
  return { sae, metrics, density, history };
}

/**
 * The run's configuration from train's options (sweep's too: `grid` sets features and steps), every value and
 * its relations checked: the refusals name the flag.
 */
export function configFromOptions(v: Record<string, unknown>, d: number, grid: { features?: number; steps?: number }): TrainConfig {
  const arch = archNamed(v.arch);
  if (!arch) throw new CliError(`--arch must be one of ${Object.keys(ARCH_STEPS).join(', ')}, got '${v.arch}'`, 2);
  const jumpMode = v['jumprelu-mode'];
  if (jumpMode !== 'step' && jumpMode !== 'tanh') throw new CliError(`--jumprelu-mode must be step or tanh, got '${jumpMode}'`, 2);
  const cfg = defaultConfig({
    arch,
    l0: numberOption(v, 'l0', false),
    jumpMode,
    bandwidth: numberOption(v, 'bandwidth'),
    thresholdInit: numberOption(v, 'threshold-init'),
    tanhScale: numberOption(v, 'tanh-scale'),
    preAct: numberOption(v, 'pre-act', false),
    thresholdLr: numberOption(v, 'threshold-lr'),
    d,
    steps: grid.steps ?? intOption(v, 'steps'),
    batch: intOption(v, 'batch'),
    seed: intOption(v, 'seed', 0),
    features: grid.features ?? (v.features !== undefined ? intOption(v, 'features') : undefined),
    l1: numberOption(v, 'l1', false),
    k: intOption(v, 'k'),
    kAux: v['k-aux'] !== undefined ? intOption(v, 'k-aux') : undefined,
    auxAlpha: v['aux-alpha'] !== undefined ? numberOption(v, 'aux-alpha', false) : undefined,
    deadWindowTokens: v['dead-window'] !== undefined ? intOption(v, 'dead-window') : undefined,
    lr: v.lr !== undefined ? numberOption(v, 'lr') : undefined,
    // a sweep's nesting scales with each size: the default's fractions, unless given
    widths: v.widths !== undefined ? intListOption(v, 'widths') : undefined,
  });
  if (keepsK(arch) && cfg.k > cfg.features) throw new CliError(`--k (${cfg.k}) must not exceed --features (${cfg.features})`, 2);
  if (arch === 'matryoshka') {
    try {
      checkMatryoshkaWidths(cfg.widths, cfg.features);
    } catch (e) {
      throw new CliError(`--widths: ${(e as Error).message}`, 2);
    }
  }
  return cfg;
}

export const trainCommand: Command = {
  name: 'train',
  summary: 'Train a sparse autoencoder on an activation file and save it the SAELens way.',
  usage: `sae-lab train --data FILE.npy|FILE.safetensors [--tensor NAME] --arch ${Object.keys(ARCH_STEPS).join('|')} --features F --out DIR [options]`,
  options: {
    data: { type: 'string', help: 'activations: .npy (N×d or docs×ctx×d), .safetensors, or a folder of datasets .arrow shards' },
    tensor: { type: 'string', help: 'tensor name inside a .safetensors file (default: its only 2-D/3-D tensor)' },
    column: { type: 'string', help: 'activation column of an Arrow cache (default: its only Array2D column)' },
    sidecar: { type: 'string', help: 'JSON-Lines token sidecar (one line per row); held-out rows are then whole documents' },
    arch: { type: 'string', help: 'standard (ReLU + L1·‖W_dec‖), topk, jumprelu (learned thresholds, L0 or tanh penalty), batchtopk (k per row on average; saved as JumpReLU) or matryoshka (BatchTopK with nested widths, each adding a loss)', default: 'standard' },
    features: { type: 'string', help: 'dictionary size F (default 8·d)' },
    l1: { type: 'string', help: 'standard: L1 coefficient λ', default: '2' },
    k: { type: 'string', help: 'topk: active latents per row; batchtopk, matryoshka: per row on average over the batch', default: '32' },
    widths: { type: 'string', help: 'matryoshka: the nested dictionary sizes, comma-separated, increasing, the last = --features (default F/16,F/4,F)' },
    'threshold-lr': { type: 'string', help: "batchtopk, matryoshka: rate of the batch threshold's moving average (the threshold it is saved with)", default: '0.01' },
    l0: { type: 'string', help: 'jumprelu: sparsity coefficient c (warmed up over 5% of the steps)', default: '1' },
    'jumprelu-mode': { type: 'string', help: 'jumprelu: step (L0 through the step function, Gemma Scope) or tanh (Anthropic, 2025)', default: 'step' },
    bandwidth: { type: 'string', help: "jumprelu: ε of the straight-through estimators' rectangle kernel (scaled units, E‖x'‖ = √d)", default: '0.5' },
    'threshold-init': { type: 'string', help: 'jumprelu: initial threshold of every feature (scaled units)', default: '0.5' },
    'tanh-scale': { type: 'string', help: 'jumprelu, tanh penalty: its scale s in tanh(s·f·‖W_dec‖)', default: '4' },
    'pre-act': { type: 'string', help: 'jumprelu: coefficient of the pre-activation loss on dead latents (0: off)', default: '0' },
    'k-aux': { type: 'string', help: 'topk, batchtopk, matryoshka: AuxK latents (default d/2)' },
    'aux-alpha': { type: 'string', help: "topk, batchtopk, matryoshka: AuxK loss weight α (default 1/32; BatchTopK's rare features want more, docs/RECIPE.md §8)" },
    'dead-window': { type: 'string', help: 'tokens without a fire after which a latent is dead (default min(10M, 25% of the run))' },
    lr: { type: 'string', help: 'Adam learning rate (default 3e-3 standard, 1e-3 topk and jumprelu)' },
    batch: { type: 'string', help: 'rows per step', default: '512' },
    steps: { type: 'string', help: 'training steps', default: '2000' },
    seed: { type: 'string', help: 'seed of the initialisation, the batch order and the held-out split', default: '0' },
    out: { type: 'string', help: 'output folder (SAELens layout + metrics.json)' },
    force: { type: 'boolean', help: 'replace a non-empty output folder' },
    'no-tune': { type: 'boolean', help: `skip the start-up tuner: every GEMM takes its default variant (choices are cached in ${tunerCachePath()})` },
    'hook-name': { type: 'string', help: "the hook the activations came from, for cfg.json's metadata.hook_name (default: harvest.json's, or an Arrow cache's column name)" },
    'model-name': { type: 'string', help: "the model they came from, for cfg.json's metadata.model_name (default: harvest.json's)" },
    fidelity: { type: 'string', help: 'activations from sae-lab harvest (harvest.json beside them): record the downstream fidelity on this many Brown sentences in metrics.json (0: skip)', default: '0' },
  },
  async run(v) {
    const dataPath = required(v, 'data', 'train');
    const fidelitySentences = intOption(v, 'fidelity', 0);
    const layer = fidelitySentences > 0 ? harvestedLayer(dataPath) : null;
    const out = required(v, 'out', 'train');
    checkOutDir(out, v.force === true);
    // Validate every input before any GPU device exists.
    const data = await openActivations(dataPath, { tensor: v.tensor as string | undefined, column: v.column as string | undefined, sidecar: v.sidecar as string | undefined });
    try {
      const d = data.rows.d;
      const cfg = configFromOptions(v, d, {});
      const { arch, steps, batch } = cfg;
      const rule = data.docs ? documentRule(cfg.seed) : heldOutRule(cfg.seed);
      splitRows(data.rows.rows, rule, data.rows.name, data.docs); // refuses data too small to hold rows out
      await refuseNonFinite(data.rows);
      const gpu = await requestNodeDevice((limits) => checkFits(cfg, limits));
      try {
        process.stderr.write(`training ${arch} SAE: d=${d} F=${cfg.features} batch=${batch} steps=${steps} on ${gpu.adapter}\n`);
        const result = await trainOnRows({
          rows: data.rows,
          config: cfg,
          rule,
          docs: data.docs,
          device: gpu.device,
          adapter: gpu.adapter,
          tunerCache: v['no-tune'] === true ? null : fileTunerCache(),
          onProgress: (step, last, tps) => process.stderr.write(progressLine(step, steps, last, tps, cfg.features) + '\n'),
        });
        if (layer) {
          const f = await measureFidelity(gpu.device, result.sae, layer, fidelitySentences);
          result.metrics.downstream_fidelity = { layer, ...f, sentences_from: 'the end of the Brown corpus' };
          process.stderr.write(`downstream fidelity at ${layer}: ${(100 * f.recovered).toFixed(1)}% recovered over ${f.sentences} sentences\n`);
        }
        const sparsity = Float32Array.from(result.density, (p) => Math.log10(p + 1e-10));
        const files = encodeSaelens(result.sae, sparsity, { dataset_path: dataPath, ...provenance(v, dataPath, data.hookName) });
        await writeFolder(out, { ...files, 'metrics.json': JSON.stringify(result.metrics, null, 2) + '\n' });
        const m = result.metrics as unknown as EvalMetrics;
        process.stderr.write(`held-out: fvu ${m.fvu === null ? 'undefined (the held-out rows do not vary)' : m.fvu.toFixed(4)}  l0 ${m.l0.toFixed(2)}  dead ${(100 * m.dead_frac_eval).toFixed(1)}%  → ${out}\n`);
      } finally {
        gpu.device.destroy();
      }
    } finally {
      await data.close();
    }
    return 0;
  },
};

function progressLine(step: number, steps: number, m: StepMetrics | undefined, tps: number, F: number): string {
  const parts = [`step ${step}/${steps}`];
  if (m) parts.push(`loss ${m.loss.toPrecision(4)}`, `l0 ${m.l0.toFixed(1)}`, `dead ${((100 * m.dead) / F).toFixed(1)}%`);
  parts.push(`${Math.round(tps).toLocaleString('en-US')} tok/s`);
  return parts.join('  ');
}

/**
 * Where the activations came from, as SAELens's HookedSAETransformer.add_sae needs it in cfg.json: the
 * --hook-name and --model-name flags, else harvest.json, else an Arrow cache's column (SAELens names the
 * column after the hook).
 */
export function provenance(v: Record<string, unknown>, dataPath: string, cacheHook: string | undefined): Record<string, unknown> {
  const named = { ...(v['hook-name'] !== undefined ? { hook_name: String(v['hook-name']) } : {}), ...(v['model-name'] !== undefined ? { model_name: String(v['model-name']) } : {}) };
  return { ...(cacheHook ? { hook_name: cacheHook } : {}), ...harvestProvenance(dataPath), ...named };
}

/** harvest.json beside activations `sae-lab harvest` wrote, else null */
export function harvestInfo(dataPath: string): Record<string, unknown> | null {
  const info = join(dirname(dataPath), 'harvest.json');
  if (!existsSync(info)) return null;
  try {
    return JSON.parse(readFileSync(info, 'utf8')) as Record<string, unknown>;
  } catch {
    throw new CliError(`${info}: not valid JSON`);
  }
}

/**
 * model_name, hook_name, context_size and prepend_bos of activations harvested from a language model (the
 * `saelens` entry of harvest.json beside them), for cfg.json as SAELens records them; nothing otherwise.
 */
export function harvestProvenance(dataPath: string): Record<string, unknown> {
  const saelens = harvestInfo(dataPath)?.saelens;
  return typeof saelens === 'object' && saelens !== null ? { ...(saelens as Record<string, unknown>) } : {};
}

/** the layer of activations written by `sae-lab harvest` (its harvest.json beside them) */
function harvestedLayer(dataPath: string): HarvestLayer {
  const info = harvestInfo(dataPath);
  if (!info) throw new CliError(`--fidelity needs activations from sae-lab harvest: no ${join(dirname(dataPath), 'harvest.json')} beside ${dataPath}`, 2);
  const layer = info.layer as string | undefined;
  if (!(HARVEST_LAYERS as readonly string[]).includes(layer ?? '')) throw new CliError(`${join(dirname(dataPath), 'harvest.json')}: no harvested layer in it`);
  return layer as HarvestLayer;
}
