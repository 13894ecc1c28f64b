// The session's imported SAEs: importing a SAELens folder or .zip, listing them, and evaluating one on a
// stored dataset.
import type { EvalMetrics, SaeSummary } from '../../worker/api.ts';
import type { SessionCore } from './core.ts';
import type { Datasets } from './datasets.ts';

export class Saes {
  /** SAEs imported from SAELens, and the last evaluation of each */
  list: SaeSummary[] = [];
  evaluations: Record<string, { dataset: string; metrics?: EvalMetrics; error?: string }> = {};

  constructor(
    private readonly core: SessionCore,
    private readonly datasets: Datasets,
  ) {}

  async refresh(): Promise<void> {
    this.list = await this.core.gpu.listSaes();
    this.core.changed();
  }

  /** Imports a SAELens SAE (a .zip of its folder, or its files). */
  async import(files: File[]): Promise<void> {
    try {
      const sae = await this.core.gpu.importSae(files);
      this.core.say({ kind: 'info', text: `Imported SAE ${sae.name}: ${sae.arch}, d_in=${sae.d}, ${sae.features} features.` });
    } catch (e) {
      this.core.say({ kind: 'error', text: (e as Error).message });
    }
    await this.refresh();
  }

  async evaluate(saeId: string, datasetId: string, rows: 'held-out' | 'all'): Promise<void> {
    const dataset = this.datasets.list.find((d) => d.id === datasetId)?.name ?? datasetId;
    this.evaluations = { ...this.evaluations, [saeId]: { dataset } };
    this.core.changed();
    try {
      this.evaluations = { ...this.evaluations, [saeId]: { dataset, metrics: await this.core.gpu.evaluateSae(saeId, datasetId, rows) } };
    } catch (e) {
      this.evaluations = { ...this.evaluations, [saeId]: { dataset, error: (e as Error).message } };
    }
    this.core.changed();
  }
}
