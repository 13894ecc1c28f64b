// What the GPU worker's jobs share: the device (asked for again after it is lost), the stores, and the one
// queue every GPU job goes through (training lets the others through between its steps).
import { RunStore } from '../data/runs.ts';
import { openStore, type DatasetStore } from '../data/store.ts';
import { describeAdapter, requestBrowserDevice } from '../engine/device.ts';
import { GpuQueue } from './gpu-queue.ts';

let device: Promise<{ device: GPUDevice; adapter: string }> | undefined;
let datasets: Promise<DatasetStore> | undefined;
let runs: Promise<RunStore> | undefined;

/** one job on the device at a time; training lets the others through between its steps */
export const jobs = new GpuQueue();

export function getDevice(): Promise<{ device: GPUDevice; adapter: string }> {
  if (!device) {
    const asked = requestBrowserDevice().then(({ device: d, adapter }) => {
      // a device lost while no job held it (the GPU process died between runs) is not handed out again
      void d.lost.then(() => {
        if (device === asked) device = undefined;
      });
      return { device: d, adapter: describeAdapter(adapter.info) };
    });
    device = asked;
  }
  return device;
}

/** why a device was lost, in words */
export const lossReason = (info: GPUDeviceLostInfo): string => info.message || info.reason || 'lost';

/**
 * Why `dev` was lost, if it is within `ms`: a call that failed on a device whose GPU process died can fail
 * before device.lost settles, by seconds on a loaded machine. Only a failure waits for this.
 */
export function lostWithin(dev: GPUDevice, ms = 3000): Promise<string | undefined> {
  return Promise.race([dev.lost.then(lossReason), new Promise<undefined>((resolve) => setTimeout(resolve, ms))]);
}

/** `work` on the device, once more on a new device when the first is lost under it */
export async function onDevice<T>(work: (device: GPUDevice) => Promise<T>): Promise<T> {
  const { device: first } = await getDevice();
  try {
    return await work(first);
  } catch (e) {
    if (!(await lostWithin(first))) throw e;
    return work((await getDevice()).device); // getDevice has dropped the lost one
  }
}

export const getRuns = (): Promise<RunStore> => (runs ??= RunStore.open());
export const getDatasets = (): Promise<DatasetStore> => (datasets ??= openStore());

