import { defineConfig } from 'vite';

// Cross-origin isolation lets TF.js's WASM backend use threads (docs: WEBGPU-WITHOUT-A-GPU.md).
const isolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

export default defineConfig({
  server: { headers: isolation, host: '127.0.0.1', port: 5173 },
  preview: { headers: isolation, host: '127.0.0.1', port: 4173 },
  build: { target: 'es2022' },
});
