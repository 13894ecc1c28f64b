// The UMAP worker's entry: exposes UmapApi (src/worker/api.ts) over comlink. The layout (a CPU job of
// seconds to minutes for large dictionaries) runs here, off the page's thread; it yields between slices of
// epochs, so cancel() and a newer layout() get through while it runs. The map comes back transferred.
// Open it with: wrap<UmapApi>(new Worker(new URL('../worker/umap-worker.ts', import.meta.url), { type: 'module' })).
import { expose, transfer } from 'comlink';
import { umapLayout } from '../analysis/umap-layout.ts';
import type { UmapApi } from './api.ts';

let running: AbortController | undefined;
// Settles when the latest layout has stopped; a new one waits for it, so two fits never share the CPU.
let idle: Promise<void> = Promise.resolve();

const api: UmapApi = {
  async layout(knn, opts, onProgress) {
    running?.abort();
    const abort = new AbortController();
    running = abort;
    const work = idle.then(() => {
      abort.signal.throwIfAborted();
      return umapLayout(knn, opts, { signal: abort.signal, onProgress });
    });
    idle = work.then(
      () => undefined,
      () => undefined,
    );
    try {
      const map = await work;
      return transfer(map, [map.buffer as ArrayBuffer]);
    } finally {
      if (running === abort) running = undefined;
    }
  },
  cancel() {
    running?.abort();
  },
};

expose(api);
