// Language models the user added, kept in the browser (IndexedDB: one record per model, its files as Blobs)
// so they are there after a reload and offline. A model is stored only after openModel accepted it whole,
// in one transaction: a refused or failed import leaves nothing.
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import { DataError } from '../data/errors.ts';

export const MODEL_DB = 'sae-lab-models';

/** what the page shows of a model, without its files */
export interface ModelSummary {
  id: string;
  name: string;
  family: string;
  /** e.g. 'd 64, 2 layers, 4 heads, vocab 512' */
  shape: string;
  hooks: string[];
  bytes: number;
  created: number;
  builtin?: boolean;
}

interface ModelRecord extends ModelSummary {
  files: Record<string, Blob>;
}

interface ModelSchema extends DBSchema {
  models: { key: string; value: ModelRecord };
}

export class ModelStore {
  private constructor(private readonly db: IDBPDatabase<ModelSchema>) {}

  static async open(name = MODEL_DB): Promise<ModelStore> {
    return new ModelStore(await openDB<ModelSchema>(name, 1, { upgrade: (db) => void db.createObjectStore('models', { keyPath: 'id' }) }));
  }

  async list(): Promise<ModelSummary[]> {
    const all = await this.db.getAll('models');
    return all.map(({ files: _files, ...summary }) => summary).sort((a, b) => a.created - b.created);
  }

  async files(id: string): Promise<{ name: string; files: Record<string, Blob> }> {
    const rec = await this.db.get('models', id);
    if (!rec) throw new DataError(id, 'no such model is stored in this browser');
    return { name: rec.name, files: rec.files };
  }

  /** stores a checked model; a full disk (QuotaExceededError) leaves nothing and says how much was asked */
  async put(summary: Omit<ModelSummary, 'id' | 'created' | 'bytes'>, files: Record<string, Blob>): Promise<ModelSummary> {
    const bytes = Object.values(files).reduce((n, b) => n + b.size, 0);
    const rec: ModelRecord = { ...summary, id: crypto.randomUUID(), created: Date.now(), bytes, files };
    try {
      const tx = this.db.transaction('models', 'readwrite');
      await Promise.all([tx.store.put(rec), tx.done]);
    } catch (e) {
      if ((e as DOMException).name === 'QuotaExceededError') {
        throw new DataError(summary.name, `the browser's storage is full: the model needs ${(bytes / 2 ** 20).toFixed(1)} MiB; free some space (delete datasets or models) and try again`);
      }
      throw e;
    }
    const { files: _files, ...out } = rec;
    return out;
  }

  async remove(id: string): Promise<boolean> {
    const had = (await this.db.getKey('models', id)) !== undefined;
    await this.db.delete('models', id);
    return had;
  }
}
