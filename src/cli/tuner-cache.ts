// The tuner's cache for the CLI and the benchmarks: one JSON file per user, keyed like the page's IndexedDB
// cache (adapter, GEMM source, problem), so a second run on the same machine skips the tuning.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import type { GemmTuning, TunerCache } from '../engine/tuner.ts';

/** $SAE_LAB_TUNER_CACHE, else $XDG_CACHE_HOME/sae-lab/tuner.json, else ~/.cache/sae-lab/tuner.json */
export function tunerCachePath(): string {
  if (process.env.SAE_LAB_TUNER_CACHE) return process.env.SAE_LAB_TUNER_CACHE;
  return join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'sae-lab', 'tuner.json');
}

export function fileTunerCache(path = tunerCachePath()): TunerCache {
  const read = (): Record<string, GemmTuning> => {
    if (!existsSync(path)) return {};
    try {
      return JSON.parse(readFileSync(path, 'utf8')) as Record<string, GemmTuning>;
    } catch {
      return {}; // a damaged cache costs one tuning, never a run
    }
  };
  let known: Record<string, GemmTuning> | undefined; // the file as read once, plus this process's puts
  return {
    async get(key) {
      return (known ??= read())[key];
    },
    async put(key, value) {
      // merged into the file as it is now, which another run may have written meanwhile
      const all = { ...read(), [key]: value };
      known = all;
      mkdirSync(dirname(path), { recursive: true });
      // written whole then renamed, so a run killed mid-write leaves the previous file
      const tmp = `${path}.${process.pid}.tmp`;
      writeFileSync(tmp, JSON.stringify(all, null, 1));
      renameSync(tmp, path);
    },
  };
}
