// What both bench pages (bench.ts, lm.ts) share: this engine's WebGPU device and the page's description.
import { describeAdapter, requiredFeaturesFor, requiredLimitsFor } from '../../src/engine/device.ts';

export interface PageInfo {
  adapter: string;
  userAgent: string;
  crossOriginIsolated: boolean;
}

let ours: Promise<{ device: GPUDevice; adapter: string; errors: string[] }> | undefined;

/** one device per tab, made on first use; `errors` collects its uncaptured errors for the runs to check */
export function ourDevice() {
  ours ??= (async () => {
    const adapter = await navigator.gpu?.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) throw new Error('no WebGPU adapter in this browser (Chromium needs --enable-unsafe-webgpu)');
    const device = await adapter.requestDevice({ requiredLimits: requiredLimitsFor(adapter), requiredFeatures: requiredFeaturesFor(adapter) });
    const errors: string[] = [];
    device.addEventListener('uncapturederror', (e) => errors.push((e as GPUUncapturedErrorEvent).error.message));
    return { device, adapter: describeAdapter(adapter.info), errors };
  })();
  return ours;
}

export async function pageInfo(): Promise<PageInfo> {
  const { adapter } = await ourDevice();
  return { adapter, userAgent: navigator.userAgent, crossOriginIsolated: globalThis.crossOriginIsolated === true };
}
