// The GPU worker's entry: owns the device and exposes GpuApi (src/worker/api.ts) over comlink, made of one
// module per concern — training and runs (training.ts), SAEs (sae-jobs.ts), the feature explorer
// (feature-jobs.ts) — which share the device, the stores and the job queue (gpu-context.ts). Progress goes
// back through proxied callbacks.
import { expose } from 'comlink';
import type { GpuApi } from './api.ts';
import { featureApi } from './feature-jobs.ts';
import { getDevice } from './gpu-context.ts';
import { saeApi } from './sae-jobs.ts';
import { trainingApi } from './training.ts';
import { sweepApi } from './sweeps.ts';

const api: GpuApi = {
  async init() {
    return { adapter: (await getDevice()).adapter };
  },
  ...trainingApi,
  ...saeApi,
  ...sweepApi,
  ...featureApi,
};

expose(api);
