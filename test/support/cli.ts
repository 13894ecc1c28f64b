// The CLI as a user runs it: a child process through bin/sae-lab.js, and what a refusal must look like.
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { expect } from 'vitest';

const BIN = join(import.meta.dirname, '../../bin/sae-lab.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

const env = (cwd: string) => ({ ...process.env, SAE_LAB_TUNER_CACHE: join(cwd, 'tuner.json') });
// Dawn prints a Vulkan loader warning when it probes for a GPU; it is not ours to report.
const ours = (stderr: string) => stderr.split('\n').filter((l) => l && !/Vulkan|initializing adapter|InitializeImpl/.test(l)).join('\n');

/** runs `sae-lab ARGS…` in `cwd` */
export function runCli(cwd: string, ...args: string[]): CliResult {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', timeout: 180_000, env: env(cwd) });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: ours(r.stderr) };
}

/** the same, without blocking: for commands that may run side by side (each its own process) */
export function runCliAsync(cwd: string, ...args: string[]): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env: env(cwd), timeout: 180_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString('utf8')));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr: ours(stderr) }));
  });
}

/** a non-zero exit with one line, 'error: …', holding every fragment */
export function expectRefused(r: CliResult, ...fragments: string[]): void {
  expect(r.code).not.toBe(0);
  const lines = r.stderr.trim().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^error: /);
  for (const f of fragments) expect(lines[0]).toContain(f);
}
