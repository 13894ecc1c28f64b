// The tuner's cache in the page: its own small IndexedDB database (not the runs' or datasets'), keyed by
// adapter, GEMM source and problem, so the first run on an adapter tunes and the next ones start at once.
import { openDB, type IDBPDatabase } from 'idb';
import type { GemmTuning, TunerCache } from '../engine/tuner.ts';

const DB = 'sae-lab-tuner';
const STORE = 'gemm';

export function idbTunerCache(): TunerCache {
  let db: Promise<IDBPDatabase> | undefined;
  const open = () => (db ??= openDB(DB, 1, { upgrade: (d) => void d.createObjectStore(STORE) }));
  return {
    async get(key) {
      return (await (await open()).get(STORE, key)) as GemmTuning | undefined;
    },
    async put(key, value) {
      await (await open()).put(STORE, value, key);
    },
  };
}
