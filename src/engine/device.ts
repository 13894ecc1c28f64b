// Device-level helpers shared by the browser and Node: which limits to ask for, how to name the adapter.

/** Ask for the adapter's maxima of the limits the engine leans on (Dawn's defaults are lower). */
export function requiredLimitsFor(adapter: GPUAdapter): Record<string, number> {
  const names = [
    'maxStorageBufferBindingSize',
    'maxBufferSize',
    'maxComputeWorkgroupStorageSize',
    'maxComputeInvocationsPerWorkgroup',
    'maxComputeWorkgroupSizeX',
    'maxComputeWorkgroupSizeY',
    'maxComputeWorkgroupsPerDimension',
    'maxStorageBuffersPerShaderStage',
  ] as const;
  const limits: Record<string, number> = {};
  for (const name of names) limits[name] = adapter.limits[name];
  return limits;
}

/** Optional features the engine uses where the adapter has them: subgroups (the subgroup GEMM variant). */
export function requiredFeaturesFor(adapter: GPUAdapter): GPUFeatureName[] {
  return adapter.features.has('subgroups') ? ['subgroups' as GPUFeatureName] : [];
}

export function describeAdapter(info: GPUAdapterInfo): string {
  const parts = [info.vendor, info.architecture, info.device, info.description].filter((s) => s && s.length > 0);
  return [...new Set(parts)].join(' ') || 'unknown adapter';
}

/** A device on this browser's (or worker's) WebGPU adapter with the limits and features above, or a clear refusal. */
export async function requestBrowserDevice(): Promise<{ device: GPUDevice; adapter: GPUAdapter }> {
  if (!('gpu' in navigator)) throw new Error('this browser has no WebGPU: use a recent Chrome or Edge');
  const adapter = await navigator.gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new Error('WebGPU found no adapter: check that hardware acceleration is on');
  return { device: await adapter.requestDevice({ requiredLimits: requiredLimitsFor(adapter), requiredFeatures: requiredFeaturesFor(adapter) }), adapter };
}
