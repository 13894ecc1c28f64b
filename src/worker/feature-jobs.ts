// The GPU worker's feature explorer jobs: an SAE's feature statistics over a dataset (stored, cancellable),
// its table and cards, its decoder neighbour graph for the map, the static JSON export, and feature
// splitting between two SAEs of the same activations. The work itself is in feature-job.ts.
import { transfer } from 'comlink';
import { zipSync } from 'fflate';
import { featureSplitting, orderFamilies } from '../analysis/splitting.ts';
import { decoderNeighbours } from '../engine/neighbours.ts';
import { outWidth } from '../engine/sae.ts';
import type { FeatureJobProgress, GpuApi } from './api.ts';
import { MAP_NEIGHBOURS } from './checkpoint-views.ts';
import { computeFeatures, exportFeatureJson, featureCard } from './feature-job.ts';
import { getDatasets, getDevice, getRuns, jobs } from './gpu-context.ts';
import { resolveSae } from './sae-jobs.ts';

/** the feature statistics job in progress, to cancel */
let featureJob: AbortController | undefined;

/** `work` as the one cancellable feature job (a new one cancels the one before) */
function featureJobRun<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  featureJob?.abort();
  const abort = new AbortController();
  featureJob = abort;
  return jobs.run(() => work(abort.signal)).finally(() => {
    if (featureJob === abort) featureJob = undefined;
  });
}

/** progress to the page, never failing the job when the page has gone */
const quietly = (onProgress: (p: FeatureJobProgress) => void) => (p: FeatureJobProgress) => void Promise.resolve(onProgress(p)).catch(() => {});

export const featureApi: Pick<GpuApi, 'computeFeatures' | 'saeNeighbours' | 'exportFeatures' | 'splitFeatures' | 'cancelFeatures' | 'featureTable' | 'featureCard'> = {
  computeFeatures(kind, id, datasetId, onProgress) {
    return featureJobRun(async (signal) => {
      const { sae, label, step } = await resolveSae(kind, id);
      const rec = await computeFeatures((await getDevice()).device, await getDatasets(), sae, { key: `${kind}:${id}`, step, saeLabel: label, datasetId }, signal, quietly(onProgress));
      await (await getRuns()).putFeatures(rec);
      return rec.table;
    });
  },

  async saeNeighbours(kind, id) {
    const { sae } = await resolveSae(kind, id);
    const K = Math.min(MAP_NEIGHBOURS, sae.features - 1);
    return jobs.run(async () => {
      const { idx, sim } = await decoderNeighbours((await getDevice()).device, sae.W_dec, sae.features, outWidth(sae), K);
      return { idx, sim, F: sae.features, K };
    });
  },

  exportFeatures(kind, id, onProgress) {
    return featureJobRun(async (signal) => {
      const rec = await (await getRuns()).getFeatures(`${kind}:${id}`);
      if (!rec) throw new Error('compute the feature statistics first');
      const { sae } = await resolveSae(kind, id);
      const files = await exportFeatureJson((await getDevice()).device, await getDatasets(), sae, rec, signal, quietly(onProgress));
      const name = `features-${rec.table.saeLabel.replace(/[^\w.=-]+/g, '_')}`.slice(0, 120);
      const zip = zipSync(Object.fromEntries(Object.entries(files).map(([f, bytes]) => [`${name}/${f}`, bytes])));
      return transfer({ name, zip }, [zip.buffer as ArrayBuffer]);
    });
  },

  async splitFeatures(a, b) {
    const [x, y] = await Promise.all([resolveSae(a.kind, a.id), resolveSae(b.kind, b.id)]);
    if (x.sae.d !== y.sae.d) throw new Error(`${x.label} reads rows of width ${x.sae.d} but ${y.label} reads ${y.sae.d}: feature splitting needs two SAEs of the same activations`);
    const [small, large] = x.sae.features <= y.sae.features ? [x, y] : [y, x];
    const keyOf = (s: typeof x) => (s === x ? `${a.kind}:${a.id}` : `${b.kind}:${b.id}`);
    // each feature's top tokens, where its statistics have been computed
    const tokens = async (s: typeof x) => (await (await getRuns()).getFeatures(keyOf(s)))?.table.features.map((f) => f.topTokens.slice(0, 3).join(' ')) ?? undefined;
    const [sl, ll] = await Promise.all([tokens(small), tokens(large)]);
    const split = featureSplitting(small.sae, large.sae, { labels: { small: sl, large: ll } });
    return { small: small.label, large: large.label, threshold: split.threshold, counts: split.counts, families: orderFamilies(split.families).filter((f) => f.children.length >= 2).slice(0, 40) };
  },

  cancelFeatures() {
    featureJob?.abort();
  },

  async featureTable(kind, id) {
    return (await (await getRuns()).getFeatures(`${kind}:${id}`))?.table ?? null;
  },

  async featureCard(kind, id, feature) {
    const rec = await (await getRuns()).getFeatures(`${kind}:${id}`);
    if (!rec) throw new Error('compute the feature statistics first');
    const { sae } = await resolveSae(kind, id);
    return jobs.run(async () => featureCard((await getDevice()).device, await getDatasets(), sae, rec, feature));
  },
};
