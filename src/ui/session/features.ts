// The session's feature explorer: one SAE's feature table over a dataset (computed in the GPU worker, with
// progress and cancel), its sort and search, an open card, its dictionary map and lasso, feature splitting
// against another SAE, and the static JSON export.
import { proxy, wrap, type Remote } from 'comlink';
import type { FeatureCard, FeatureJobProgress, FeatureTable, SplitView, UmapApi } from '../../worker/api.ts';
import type { SessionCore } from './core.ts';
import type { DictionaryMap } from './training.ts';

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

export class Features {
  view: FeatureView | undefined;
  /** the explorer's own UMAP worker: a layout of the live training views must not cancel its map */
  private umap: Remote<UmapApi> | undefined;

  constructor(private readonly core: SessionCore) {}

  /** Opens an SAE in the feature explorer, with its stored table if it has one. */
  async open(kind: 'run' | 'imported', id: string, label: string): Promise<void> {
    const view: FeatureView = { kind, id, label, sort: 'density', query: '' };
    this.view = view;
    this.core.changed();
    view.table = (await this.core.gpu.featureTable(kind, id)) ?? undefined;
    this.core.changed();
    if (view.table) await this.layoutMap(view);
  }

  /** the open SAE's map: neighbours on the GPU, UMAP in its worker, coloured by the table's densities */
  private async layoutMap(view: FeatureView): Promise<void> {
    try {
      const graph = await this.core.gpu.saeNeighbours(view.kind, view.id);
      this.umap ??= wrap<UmapApi>(new Worker(new URL('../../worker/umap-worker.ts', import.meta.url), { type: 'module' }));
      const xy = await this.umap.layout(graph, { seed: 0 });
      const density = Float32Array.from(view.table!.features, (f) => Math.log10(f.density + 1e-10));
      view.map = { step: -1, F: graph.F, xy, density, refreshes: 1 };
    } catch (e) {
      view.error = `the map could not be drawn: ${(e as Error).message}`;
    }
    this.core.changed();
  }

  /** Links the open SAE's features with another SAE's (same activations, another size) by decoder cosine. */
  async splitWith(kind: 'run' | 'imported', id: string): Promise<void> {
    const view = this.view;
    if (!view) return;
    try {
      view.split = await this.core.gpu.splitFeatures({ kind: view.kind, id: view.id }, { kind, id });
    } catch (e) {
      view.error = (e as Error).message;
    }
    this.core.changed();
  }

  setLasso(features: number[]): void {
    if (!this.view) return;
    this.view.lasso = features;
    this.core.changed();
  }

  /** Computes the open SAE's feature statistics over a dataset's held-out rows (progress; cancellable). */
  async compute(datasetId: string): Promise<void> {
    const view = this.view;
    if (!view || view.job) return;
    try {
      view.table = await this.job(view, 'starting', (onProgress) => this.core.gpu.computeFeatures(view.kind, view.id, datasetId, onProgress));
      view.card = undefined;
      void this.layoutMap(view);
    } catch (e) {
      view.error = (e as Error).name === 'AbortError' || /abort/i.test((e as Error).message) ? 'cancelled; nothing was stored' : (e as Error).message;
    }
    this.core.changed();
  }

  /** The open SAE's feature data as static JSON (zipped), with the job's progress shown like the statistics'. */
  async export(): Promise<{ name: string; zip: Uint8Array } | undefined> {
    const view = this.view;
    if (!view || view.job) return undefined;
    try {
      return await this.job(view, 'exporting', (onProgress) => this.core.gpu.exportFeatures(view.kind, view.id, onProgress));
    } catch (e) {
      view.error = (e as Error).message;
      this.core.changed();
      return undefined;
    }
  }

  /** a feature job with its progress on the view */
  private async job<T>(view: FeatureView, stage: string, work: (onProgress: (p: FeatureJobProgress) => void) => Promise<T>): Promise<T> {
    view.job = { fraction: 0, stage };
    view.error = undefined;
    this.core.changed();
    try {
      return await work(proxy((p: FeatureJobProgress) => {
        view.job = p;
        this.core.changed();
      }));
    } finally {
      view.job = undefined;
      this.core.changed();
    }
  }

  cancel(): void {
    void this.core.gpu.cancelFeatures();
  }

  setQuery(query: string, sort?: FeatureView['sort']): void {
    if (!this.view) return;
    this.view.query = query;
    if (sort) this.view.sort = sort;
    this.core.changed();
  }

  async openCard(feature: number): Promise<void> {
    const view = this.view;
    if (!view) return;
    try {
      view.card = await this.core.gpu.featureCard(view.kind, view.id, feature);
    } catch (e) {
      view.error = (e as Error).message;
    }
    this.core.changed();
  }
}
