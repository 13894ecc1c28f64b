// sae-lab sweep as a user runs it: a 3 × 2 grid on synthetic rows writes a SAELens folder per run, sweep.json
// (compute from the registry's FLOPs, the frontier, the best size at each compute) and the scaling figures;
// --resume keeps the finished runs and trains only what is missing; a sparsity axis (--k as a list) gets a
// frontier per k; a bad grid is refused before any run.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/engine/config.ts';
import { ARCH_STEPS } from '../../src/engine/steps/index.ts';
import { expectRefused, runCli, runCliAsync } from '../support/cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'sae-lab-sweep-'));
const GRID = ['--arch', 'topk', '--k', '3', '--features', '16,32,64', '--steps', '10,30', '--batch', '64', '--no-tune'];

interface Summary { runs: { features: number; steps: number; compute: number; loss: number; folder: string }[]; frontier: string[]; best_sizes: { features: number }[] }

describe('sae-lab sweep', () => {
  beforeAll(() => {
    const r = runCli(dir, 'synth', '--out', 'gt.npy', '--d', '8', '--features', '24', '--rows', '3000', '--seed', '3');
    expect(r.code, r.stderr).toBe(0);
  });

  it('trains the grid, writes every run, the summary and the scaling figures; --resume trains only what is missing', async () => {
    const r = await runCliAsync(dir, 'sweep', '--data', 'gt.npy', ...GRID, '--out', 'sw');
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(readFileSync(join(dir, 'sw', 'sweep.json'), 'utf8')) as Summary;
    expect(summary.runs.map((x) => [x.features, x.steps])).toEqual([[16, 10], [16, 30], [32, 10], [32, 30], [64, 10], [64, 30]]);
    for (const run of summary.runs) {
      const cfg = defaultConfig({ arch: 'topk', d: 8, k: 3, features: run.features, steps: run.steps, batch: 64 });
      expect(run.compute).toBe(run.steps * ARCH_STEPS.topk.flops(cfg));
      expect(run.loss).toBeGreaterThan(0);
      expect(existsSync(join(dir, 'sw', run.folder, 'sae_weights.safetensors'))).toBe(true);
      const metrics = JSON.parse(readFileSync(join(dir, 'sw', run.folder, 'metrics.json'), 'utf8'));
      expect(metrics.fvu).toBe(run.loss);
    }
    // the frontier: rising compute, falling loss, and no run of less compute beats any of it
    const front = summary.frontier.map((f) => summary.runs.find((x) => x.folder === f)!);
    for (let i = 1; i < front.length; i++) expect(front[i]!.compute > front[i - 1]!.compute && front[i]!.loss < front[i - 1]!.loss).toBe(true);
    for (const f of front) expect(summary.runs.some((x) => x.compute < f.compute && x.loss <= f.loss)).toBe(false);
    expect(summary.best_sizes.map((b) => b.features)).toEqual(front.map((f) => f.features));
    const svg = readFileSync(join(dir, 'sw', 'scaling.svg'), 'utf8');
    expect(svg).toMatch(/^<svg/);
    expect(svg).toContain('frontier');
    expect(readFileSync(join(dir, 'sw', 'fvu-l0.csv'), 'utf8').trim().split('\n')).toHaveLength(7);

    rmSync(join(dir, 'sw', 'F32-S30'), { recursive: true });
    const again = await runCliAsync(dir, 'sweep', '--data', 'gt.npy', ...GRID, '--out', 'sw', '--resume');
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr.match(/finished earlier, kept/g)).toHaveLength(5);
    expect(again.stderr).toMatch(/group 1\/1: F32-S30\n/);
    const resumed = JSON.parse(readFileSync(join(dir, 'sw', 'sweep.json'), 'utf8')) as Summary;
    expect(resumed.runs.filter((x) => x.folder !== 'F32-S30')).toEqual(summary.runs.filter((x) => x.folder !== 'F32-S30'));

    // side by side: one pass over the batches for all six runs, each ending exactly as it did alone
    const together = await runCliAsync(dir, 'sweep', '--data', 'gt.npy', ...GRID, '--side-by-side', '--out', 'sb');
    expect(together.code, together.stderr).toBe(0);
    const sb = JSON.parse(readFileSync(join(dir, 'sb', 'sweep.json'), 'utf8')) as Summary & { timing: { side_by_side: boolean; groups: string[][] } };
    expect(sb.timing.side_by_side).toBe(true);
    expect(sb.timing.groups).toEqual([summary.runs.map((x) => x.folder)]);
    for (const run of summary.runs) {
      expect(readFileSync(join(dir, 'sb', run.folder, 'sae_weights.safetensors')).equals(readFileSync(join(dir, 'sw', run.folder, 'sae_weights.safetensors'))), run.folder).toBe(true);
    }
  });

  it('a sparsity axis: every k gets its own runs, frontier and fit, and the figures and CSV name it', async () => {
    const r = await runCliAsync(dir, 'sweep', '--data', 'gt.npy', '--arch', 'topk', '--k', '2,4,8', '--features', '16,32', '--steps', '20', '--batch', '64', '--no-tune', '--out', 'sk');
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(readFileSync(join(dir, 'sk', 'sweep.json'), 'utf8')) as Summary & { runs: { sparsity: string; l0: number }[]; by_sparsity: { sparsity: string; frontier: string[] }[] };
    expect(summary.runs.map((x) => x.folder)).toEqual(['F16-S20-k=2', 'F16-S20-k=4', 'F16-S20-k=8', 'F32-S20-k=2', 'F32-S20-k=4', 'F32-S20-k=8']);
    for (const run of summary.runs) {
      expect(JSON.parse(readFileSync(join(dir, 'sk', run.folder, 'cfg.json'), 'utf8')).k).toBe(Number(run.sparsity.slice(2)));
      expect(run.l0).toBeGreaterThan(0);
      expect(run.l0).toBeLessThanOrEqual(Number(run.sparsity.slice(2)) + 1e-9); // TopK: at most k per row
    }
    // a frontier per k, of that k's runs alone; no frontier across them (the densest would take it all)
    expect(summary.by_sparsity.map((g) => g.sparsity)).toEqual(['k=2', 'k=4', 'k=8']);
    for (const g of summary.by_sparsity) expect(g.frontier.length > 0 && g.frontier.every((f) => f.endsWith(`-${g.sparsity}`))).toBe(true);
    expect(summary).not.toHaveProperty('frontier');
    expect(readFileSync(join(dir, 'sk', 'fvu-l0.csv'), 'utf8').split('\n')[1]).toBe(`16,20,k=2,${summary.runs[0]!.compute},${summary.runs[0]!.loss},${(summary.runs[0] as unknown as { mse_per_token: number }).mse_per_token},${summary.runs[0]!.l0},${(summary.runs[0] as unknown as { dead_frac_eval: number }).dead_frac_eval}`);
    const svg = readFileSync(join(dir, 'sk', 'scaling.svg'), 'utf8');
    for (const k of ['k=2', 'k=4', 'k=8']) expect(svg).toContain(`${k} frontier`);
  });

  it('refuses a bad grid before any run, naming the flag', async () => {
    const [repeat, bad, noK, repeatK, notItsAxis] = await Promise.all([
      runCliAsync(dir, 'sweep', '--data', 'gt.npy', '--features', '16,16', '--steps', '10', '--out', 'never'),
      runCliAsync(dir, 'sweep', '--data', 'gt.npy', '--features', '16,x', '--steps', '10', '--out', 'never'),
      runCliAsync(dir, 'sweep', '--data', 'gt.npy', '--arch', 'topk', '--k', '40', '--features', '64,32', '--steps', '10', '--out', 'never'),
      runCliAsync(dir, 'sweep', '--data', 'gt.npy', '--arch', 'topk', '--k', '4,4', '--features', '64', '--steps', '10', '--out', 'never'),
      runCliAsync(dir, 'sweep', '--data', 'gt.npy', '--arch', 'topk', '--l1', '1,2', '--features', '64', '--steps', '10', '--out', 'never'),
    ]);
    expectRefused(repeat, '--features', 'repeats');
    expectRefused(bad, '--features', 'positive whole numbers');
    expectRefused(noK, '--k (40) must not exceed --features (32)');
    expectRefused(repeatK, '--k repeats');
    expectRefused(notItsAxis, '--l1 takes one value', 'topk sweep is --k');
    expect(existsSync(join(dir, 'never'))).toBe(false);
  });
});
