// The session's datasets and language models: importing files, harvesting a model's hook or the sentence
// encoder over text, the built-in demos' data, renaming, deleting and exporting what is stored.
import { proxy } from 'comlink';
import type { DatasetManifest, ImportProgress, ImportSummary, ModelHarvestRequest, ModelSummary, ToyOptions } from '../../worker/api.ts';
import type { SessionCore } from './core.ts';

export interface ImportState {
  file: string;
  progress: ImportProgress;
}

/** the language-model demo: the built-in model's residual stream halfway through its 4 blocks */
export const LM_DEMO = { model: 'builtin', hook: 'blocks.2.hook_resid_pre', tokens: 20_000 } as const;

export class Datasets {
  /** every stored dataset */
  list: DatasetManifest[] = [];
  /** the built-in language model and those stored in this browser */
  models: ModelSummary[] = [];
  /** true while a picked model folder is being checked and stored */
  addingModel = false;
  /** true once the store is open, cleaned of killed imports, and listed */
  loaded = false;
  importing: ImportState | undefined;

  constructor(private readonly core: SessionCore) {}

  async refresh(): Promise<void> {
    this.list = await this.core.data.list();
    this.loaded = true;
    this.core.changed();
  }

  /** One activation file (optionally with its .jsonl sidecar), or the shards of an Arrow cache. */
  importFiles(files: File[]): Promise<ImportSummary | undefined> {
    const label = files[0]?.webkitRelativePath.split('/')[0] || files.map((f) => f.name).join(' + ');
    return this.runImport(label, (onProgress) => this.core.data.importFiles(files, onProgress));
  }

  /** Activations of the sentence encoder on the user's own text, one document per paragraph. */
  createTextDataset(text: string, name: string): Promise<ImportSummary | undefined> {
    return this.runImport(name || 'my text', (onProgress) => this.core.data.createTextDataset({ text, name, layer: 'resid0' }, onProgress));
  }

  async refreshModels(): Promise<void> {
    this.models = await this.core.data.listModels();
    this.core.changed();
  }

  /** Adds a Hugging Face model folder the user picked (or its files), checked whole before it is stored. */
  async addModel(files: File[]): Promise<ModelSummary | undefined> {
    this.core.say(undefined);
    this.addingModel = true;
    this.core.changed();
    try {
      const m = await this.core.data.addModel(files);
      this.core.say({ kind: 'info', text: `Added the model ${m.name}: ${m.family}, ${m.shape}, ${(m.bytes / 2 ** 20).toFixed(1)} MiB stored in this browser.` });
      return m;
    } catch (e) {
      this.core.say({ kind: 'error', text: (e as Error).message });
      return undefined;
    } finally {
      this.addingModel = false;
      await this.refreshModels();
    }
  }

  async removeModel(id: string): Promise<void> {
    await this.core.data.removeModel(id);
    await this.refreshModels();
  }

  /** A hook of a language model over the built-in corpus (or the user's text), stored as a dataset. */
  createModelDataset(req: ModelHarvestRequest): Promise<ImportSummary | undefined> {
    const model = this.models.find((m) => m.id === req.model)?.name ?? req.model;
    return this.runImport(`${model} ${req.hook}`, (onProgress) => this.core.data.createModelDataset(req, onProgress));
  }

  /** The language-model demo's dataset: the built-in model's middle residual stream over Brown and code. */
  createLmDemoDataset(): Promise<ImportSummary | undefined> {
    return this.createModelDataset({ ...LM_DEMO });
  }

  /** The built-in demo with known ground truth: toy superposition data made in the worker. */
  createToyDataset(): Promise<ImportSummary | undefined> {
    const opts: ToyOptions = { d: 64, features: 256, rows: 32768, seed: 0 };
    return this.runImport('toy superposition', (onProgress) => this.core.data.createToyDataset(opts, onProgress));
  }

  /** The built-in demo on real activations: USE-lite's residual stream after layer 0 over Brown text. */
  createBrownDataset(tokens = 20_000): Promise<ImportSummary | undefined> {
    return this.runImport('Brown corpus', (onProgress) => this.core.data.createBrownDataset({ layer: 'resid0', tokens }, onProgress));
  }

  /** The stored language-model demo dataset (or the sentence encoder's where the build has no built-in model), made now if missing. */
  async demoDataset(): Promise<DatasetManifest | undefined> {
    const lm = this.models.some((m) => m.id === LM_DEMO.model);
    const isDemo = (x: DatasetManifest) =>
      x.source.kind === 'harvest' && (lm ? x.source.provenance?.hook_name === LM_DEMO.hook && x.source.provenance?.model_name === 'builtin-lm' && x.rows === LM_DEMO.tokens : x.name.startsWith('Brown corpus'));
    return this.list.find(isDemo) ?? (await (lm ? this.createLmDemoDataset() : this.createBrownDataset()))?.dataset;
  }

  private async runImport(name: string, work: (onProgress: (p: ImportProgress) => void) => Promise<ImportSummary>): Promise<ImportSummary | undefined> {
    this.importing = { file: name, progress: { rowsDone: 0, rows: 0 } };
    this.core.say(undefined);
    this.core.changed();
    try {
      const summary = await work(proxy((p: ImportProgress) => {
        this.importing = { file: name, progress: p };
        this.core.changed();
      }));
      this.core.say({ kind: 'info', text: [`Imported ${summary.dataset.name}: ${summary.dataset.rows} rows × ${summary.dataset.d}.`, ...summary.notes].join(' ') });
      return summary;
    } catch (e) {
      this.core.say({ kind: 'error', text: (e as Error).message });
      return undefined;
    } finally {
      this.importing = undefined;
      await this.refresh();
    }
  }

  cancelImport(): void {
    void this.core.data.cancelImport();
  }

  async rename(id: string, name: string): Promise<void> {
    await this.core.data.rename(id, name);
    await this.refresh();
  }

  async remove(id: string): Promise<void> {
    await this.core.data.remove(id);
    await this.refresh();
  }

  exportNpy(id: string): Promise<{ npy: Uint8Array; sidecar?: Uint8Array }> {
    return this.core.data.exportNpy(id);
  }

  /** Makes imports meet a full disk from chunk `chunk` on (null: normal storage again); for tests. */
  failStorageAt(chunk: number | null): Promise<void> {
    return this.core.data.failStorageAt(chunk);
  }
}
