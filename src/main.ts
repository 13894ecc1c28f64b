// Placeholder page until the lab UI lands: it only reports whether this browser can run the engine.
const statusLine = document.getElementById('gpu-status')!;

async function describeGpu(): Promise<string> {
  if (!('gpu' in navigator)) {
    return 'This browser has no WebGPU. Use a recent Chrome or Edge (or Chromium with --enable-unsafe-webgpu).';
  }
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) return 'WebGPU is present but no adapter was found. Check that hardware acceleration is on.';
  const info = adapter.info;
  return `WebGPU adapter: ${[info.vendor, info.architecture, info.description].filter(Boolean).join(' ') || 'unnamed'}`;
}

describeGpu().then((text) => (statusLine.textContent = text));
