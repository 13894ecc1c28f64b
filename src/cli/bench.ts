// sae-lab bench: the benchmark of `npm run bench` (bench/bench.ts) from the command line — this engine in
// Node and in headless Chromium against TF.js WebGPU and WASM, one table, bench-results.json. It runs the
// script in a child process from the package's folder, where the benchmark pages and node_modules are.
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from './args.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');

export const benchCommand: Command = {
  name: 'bench',
  summary: 'Training speed here against TF.js (WebGPU, WASM) in Node and headless Chromium; writes bench-results.json.',
  usage: 'sae-lab bench [--quick] [--budget SECONDS]',
  options: {
    quick: { type: 'boolean', help: 'the small shape only, 30 steps: a check that everything runs' },
    budget: { type: 'string', help: 'seconds the whole run may take; a shape predicted not to fit is skipped, with the reason (default 1100)' },
  },
  run(v) {
    const env = { ...process.env, ...(v.quick ? { SAE_BENCH_QUICK: '1' } : {}), ...(v.budget ? { SAE_BENCH_BUDGET_S: String(v.budget) } : {}) };
    const child = spawn(process.execPath, ['--import', './bin/register.js', 'bench/bench.ts'], { cwd: ROOT, env, stdio: 'inherit' });
    return new Promise((resolve, reject) => {
      child.on('error', reject);
      child.on('exit', (code) => resolve(code ?? 1));
    });
  },
};
