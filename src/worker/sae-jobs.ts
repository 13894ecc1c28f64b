// The GPU worker's SAEs: a run's SAE at its checkpoint exported the SAELens way (zipped), SAELens SAEs
// imported (a folder's files or a .zip of it), listed and evaluated on a dataset; and any of them resolved
// to its weights for the feature and explore jobs.
import { transfer } from 'comlink';
import { unzipSync, Zip, ZipPassThrough, zipSync } from 'fflate';
import { rangeChunks } from '../data/batches.ts';
import { ACTIVATION_SCALER_FILE, decodeSaelens, encodeSaelens, type SaelensExtras } from '../data/formats/saelens.ts';
import { HARVEST_LAYERS, LAYER_NODES, type HarvestLayer } from '../data/harvest/model.ts';
import { SaeRunner, type EvalMetrics } from '../engine/evaluate.ts';
import type { RowSource } from '../data/sources.ts';
import { foldSae, snapshotParams } from '../engine/fold.ts';
import { formLabel, type SaeWeights } from '../engine/sae.ts';
import { writeScaleExport } from '../handover/scale-export.ts';
import type { GpuApi } from './api.ts';
import { getDatasets, getRuns, jobs, onDevice } from './gpu-context.ts';
import { harvestedModel } from './handover-model.ts';

/** the export for SAELens in progress, to cancel */
let handover: AbortController | undefined;

/** the name of loose files picked without a folder */
const LOOSE = '';

/** cfg.json and sae_weights.safetensors from a SAELens folder's files or from a .zip of it. */
async function saeFiles(files: File[]): Promise<{ name: string; cfg: string; weights: Uint8Array; extras: SaelensExtras }> {
  let entries: Record<string, Uint8Array> = {};
  let name = files[0]?.name ?? 'sae';
  if (files.length === 1 && files[0]!.name.toLowerCase().endsWith('.zip')) {
    entries = unzipSync(new Uint8Array(await files[0]!.arrayBuffer()));
    name = name.replace(/\.zip$/i, '');
  } else {
    for (const f of files) entries[f.webkitRelativePath || f.name] = new Uint8Array(await f.arrayBuffer());
    name = files[0]?.webkitRelativePath.split('/')[0] || LOOSE;
  }
  const find = (file: string) => Object.keys(entries).find((k) => k === file || k.endsWith(`/${file}`));
  const cfg = find('cfg.json');
  const weights = find('sae_weights.safetensors');
  if (!cfg || !weights) throw new Error(`${name || files[0]?.name}: a SAELens SAE needs cfg.json and sae_weights.safetensors (found: ${Object.keys(entries).join(', ') || 'nothing'})`);
  const scaler = find(ACTIVATION_SCALER_FILE);
  const extras: SaelensExtras = scaler ? { activationScaler: new TextDecoder().decode(entries[scaler]) } : {};
  return { name, cfg: new TextDecoder().decode(entries[cfg]), weights: entries[weights]!, extras };
}

/** the shipped model's layer a dataset or hook name speaks of ('… via USE-lite resid0', a node name), if any */
function layerOf(text: string): HarvestLayer | null {
  for (const layer of HARVEST_LAYERS) if (text.includes(`USE-lite ${layer}`) || text === LAYER_NODES[layer].node || text === layer) return layer;
  return null;
}

export interface ResolvedSae {
  sae: SaeWeights;
  /** the sentence encoder's layer its data came from, if it did */
  layer: HarvestLayer | null;
  label: string;
  step: number;
}

/** A run's SAE at its checkpoint (raw units, with its dataset's provenance as metadata) or an imported one. */
export async function resolveSae(kind: 'run' | 'imported', id: string): Promise<ResolvedSae> {
  const runsDb = await getRuns();
  if (kind === 'imported') {
    const rec = await runsDb.getSae(id);
    if (!rec) throw new Error(`no imported SAE ${id}`);
    const hook = String((rec.sae.metadata as { hook_name?: unknown }).hook_name ?? '');
    return { sae: rec.sae, layer: layerOf(hook), label: rec.name, step: 0 };
  }
  const run = await runsDb.get(id);
  const snap = run?.snapshot;
  if (!run || !snap) throw new Error('this run has no checkpoint yet');
  const manifest = await (await getDatasets()).get(run.datasetId);
  const label = `${run.config.arch} F=${run.config.features} on ${run.datasetName} at step ${snap.step}`;
  const sae = foldSae(snapshotParams(snap), snap.config, snap.stats.scale, {}, snap.state);
  // rows harvested from a language model name it and its hook, as an exported cfg.json would
  sae.metadata = { ...sae.metadata, ...(manifest?.source.provenance ?? {}) };
  return { sae, layer: layerOf(`${manifest?.source.name ?? ''} ${run.datasetName}`), label, step: snap.step };
}

/** A run's SAE at its last checkpoint in raw units, with its dataset's provenance and a file name for exports. */
async function checkpointed(runId: string) {
  const run = await (await getRuns()).get(runId);
  const snap = run?.snapshot;
  if (!run || !snap) throw new Error('this run has no checkpoint yet: train at least one checkpoint interval');
  const manifest = await (await getDatasets()).get(run.datasetId);
  const sae = foldSae(snapshotParams(snap), snap.config, snap.stats.scale, {}, snap.state);
  // rows harvested from a language model name it, its hook, context and BOS, as SAELens records them
  const provenance = manifest?.source.provenance ?? {};
  const slug = `${run.config.arch}-${run.config.features}-${run.datasetName.replace(/[^\w.-]+/g, '_')}-step${snap.step}`;
  return { run, snap, sae, provenance, manifest, slug };
}

/** RECIPE §3 metrics of an SAE over the given row ranges (a GPU job) */
export async function evaluateOn(sae: SaeWeights, rows: RowSource, ranges: [number, number][]): Promise<EvalMetrics & { density: Float64Array }> {
  return jobs.run(() =>
    onDevice(async (device) => {
      const runner = new SaeRunner(device, sae, 512);
      try {
        return await runner.evaluate(rangeChunks(rows, ranges));
      } finally {
        runner.destroy();
      }
    }),
  );
}

export const saeApi: Pick<GpuApi, 'exportSae' | 'exportScale' | 'cancelExportScale' | 'importSae' | 'listSaes' | 'evaluateSae' | 'saeWeights'> = {
  async exportSae(runId: string) {
    const { run, snap, sae, provenance, slug } = await checkpointed(runId);
    // Density over the training tokens seen (held-out statistics come with the feature explorer).
    const tokens = Math.max(1, snap.step * snap.config.batch);
    const sparsity = Float32Array.from(snap.fireCount, (c) => Math.log10(c / tokens + 1e-10));
    const files = encodeSaelens(sae, sparsity, { dataset_path: run.datasetName, training_steps: snap.step, ...provenance });
    const name = `sae-${slug}`;
    const zip = zipSync(Object.fromEntries(Object.entries(files).map(([f, bytes]) => [`${name}/${f}`, bytes])));
    return transfer({ name, zip }, [zip.buffer as ArrayBuffer]);
  },

  async exportScale(runId: string, onProgress: (fraction: number) => void) {
    handover?.abort();
    const abort = new AbortController();
    handover = abort;
    try {
      const { run, snap, sae, provenance, manifest, slug } = await checkpointed(runId);
      if (!manifest || manifest.status !== 'complete') throw new Error(`the run's dataset ${run.datasetName} is no longer stored: the cache is made from it`);
      const store = await getDatasets();
      const lm = await harvestedModel(manifest, () => store.readContext(manifest.id));
      const name = `saelens-${slug}`;
      // streamed into a Blob file by file (stored, not deflated: activations hardly compress), so a large cache
      // is never one array in this worker
      const parts: Uint8Array[] = [];
      let failed: Error | null = null;
      const zip = new Zip((err, chunk) => (err ? (failed = err) : parts.push(chunk)));
      await writeScaleExport({
        run: { sae, config: snap.config, inputScale: snap.stats.scale },
        stepsDone: snap.step,
        rows: await store.rowSource(manifest.id),
        hook: String(provenance.hook_name ?? 'activations'),
        contextSize: 1,
        model: lm?.model,
        documents: lm?.documents,
        trainingTokens: Math.max(1, snap.step) * snap.config.batch,
        metadata: { ...sae.metadata, ...provenance, dataset_path: 'cache' },
      }, async (path, bytes) => {
        const entry = new ZipPassThrough(`${name}/${path}`);
        zip.add(entry);
        entry.push(bytes, true);
      }, { onProgress, signal: abort.signal });
      zip.end();
      if (failed) throw failed;
      return { name, blob: new Blob(parts as BlobPart[], { type: 'application/zip' }) };
    } finally {
      if (handover === abort) handover = undefined;
    }
  },

  cancelExportScale() {
    handover?.abort(new DOMException('cancelled; nothing was downloaded', 'AbortError'));
  },

  async importSae(files: File[]) {
    const { name, cfg, weights, extras } = await saeFiles(files);
    const sae = decodeSaelens(cfg, weights, name, extras);
    // Loose files carry no folder name: name the SAE after the model and hook it was trained on.
    const meta = sae.metadata as { model_name?: string; hook_name?: string };
    const label = name !== LOOSE ? name : [meta.model_name, meta.hook_name].filter(Boolean).join(' ') || 'imported SAE';
    const rec = { id: crypto.randomUUID(), name: label, sae, created: Date.now() };
    await (await getRuns()).putSae(rec);
    return { id: rec.id, name: label, arch: formLabel(sae), d: sae.d, features: sae.features, created: rec.created };
  },

  async listSaes() {
    return (await getRuns()).listSaes();
  },

  async evaluateSae(saeId: string, datasetId: string, which: 'held-out' | 'all') {
    const rec = await (await getRuns()).getSae(saeId);
    if (!rec) throw new Error(`no imported SAE ${saeId}`);
    const store = await getDatasets();
    const manifest = await store.get(datasetId);
    if (!manifest || manifest.status !== 'complete') throw new Error(`dataset ${datasetId} is not stored`);
    if (manifest.d !== rec.sae.d) throw new Error(`${manifest.name} has rows of width ${manifest.d}; the SAE ${rec.name} has d_in=${rec.sae.d}`);
    const rows = await store.rowSource(manifest.id);
    const ranges: [number, number][] = which === 'all' ? [[0, rows.rows]] : (await store.split(manifest.id)).heldOut;
    const { density: _density, ...metrics } = await evaluateOn(rec.sae, rows, ranges);
    return metrics;
  },

  async saeWeights(kind: 'run' | 'imported', id: string) {
    const { sae, layer, label } = await resolveSae(kind, id);
    return { sae, layer, label };
  },
};
