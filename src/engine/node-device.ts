// A GPUDevice for Node through the `webgpu` package (Dawn). A real GPU's Vulkan driver is tried first;
// when it gives no adapter, Chromium's bundled SwiftShader (a software Vulkan driver) is used instead.
// Only the CLI, benchmarks and tests import this file: the engine itself takes any GPUDevice.
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeAdapter, requiredFeaturesFor, requiredLimitsFor } from './device.ts';

// Debian's chromium package puts SwiftShader here; SAE_LAB_SWIFTSHADER_ICD points elsewhere.
const SWIFTSHADER_ICD = process.env.SAE_LAB_SWIFTSHADER_ICD ?? '/usr/lib/chromium/vk_swiftshader_icd.json';

export interface NodeGpu {
  device: GPUDevice;
  /** human-readable adapter description, recorded with every figure */
  adapter: string;
  isSoftware: boolean;
}

export class NoAdapterError extends Error {}

type Create = (options: string[]) => GPU;

// Dawn tears down a device whose GPU instance is garbage-collected (and the process dies with it), so every
// instance made here is kept for the life of the process.
const instances: GPU[] = [];

async function tryAdapter(create: Create): Promise<GPUAdapter | null> {
  const gpu = create([]);
  instances.push(gpu);
  return gpu.requestAdapter({ powerPreference: 'high-performance' });
}

/**
 * @param validate called with the adapter's limits before any device exists, so a run that cannot fit is
 *   refused without ever creating one
 */
export async function requestNodeDevice(validate?: (limits: GPUSupportedLimits) => void): Promise<NodeGpu> {
  // Vulkan's loader complains without a runtime dir; an empty private one is enough.
  if (!process.env.XDG_RUNTIME_DIR) process.env.XDG_RUNTIME_DIR = mkdtempSync(join(tmpdir(), 'sae-lab-xdg-'));
  const { create, globals } = await import('webgpu');
  Object.assign(globalThis, globals);
  let adapter = process.env.SAE_LAB_FORCE_SOFTWARE ? null : await tryAdapter(create);
  if (!adapter && existsSync(SWIFTSHADER_ICD) && process.env.VK_ICD_FILENAMES !== SWIFTSHADER_ICD) {
    process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
    adapter = await tryAdapter(create);
  }
  if (!adapter) {
    throw new NoAdapterError(
      'no WebGPU adapter: no Vulkan GPU driver answered and SwiftShader was not found at ' +
        `${SWIFTSHADER_ICD} (install Debian's chromium and libvulkan1)`,
    );
  }
  validate?.(adapter.limits);
  const device = await adapter.requestDevice({ requiredLimits: requiredLimitsFor(adapter), requiredFeatures: requiredFeaturesFor(adapter) });
  const description = describeAdapter(adapter.info);
  return { device, adapter: description, isSoftware: /swiftshader/i.test(description) };
}
