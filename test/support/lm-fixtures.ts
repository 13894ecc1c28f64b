// The language-model fixtures: folders saved by Hugging Face transformers with what it computed for them
// (../shared/fixtures/lm/, and test/fixtures/lm/ for other shapes and options), read through the same
// loader the page and the CLI use.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { expect } from 'vitest';
import { openNpy, readNpyVector } from '../../src/data/formats/npy.ts';
import { memorySource } from '../../src/data/memory-source.ts';
import { openModel, readWeights, type ModelPlan } from '../../src/model/folder.ts';
import { nodeModelFiles } from '../../src/model/node-files.ts';
import type { LmWeights } from '../../src/model/config.ts';

export const SHARED_LM = resolve(__dirname, '../../../shared/fixtures/lm');
export const LOCAL_LM = resolve(__dirname, '../fixtures/lm');

/** every fixture folder: the shared two, then the local variants */
export function lmFixtureDirs(): string[] {
  const dirs: string[] = [];
  for (const root of [SHARED_LM, LOCAL_LM]) {
    if (!existsSync(root)) continue;
    for (const name of readdirSync(root).sort()) if (existsSync(join(root, name, 'config.json'))) dirs.push(join(root, name));
  }
  return dirs;
}

export interface LmFixture {
  dir: string;
  plan: ModelPlan;
  weights: LmWeights;
  prompts: { prompts: string[]; ids: number[][]; steer: { hook: string; vector: string } };
  greedy: { prompt_ids: number[]; new_ids: number[] };
  expected(name: string): Promise<{ data: Float32Array; rows: number; d: number }>;
  steerVector(): Promise<Float32Array>;
}

export async function loadLmFixture(dir: string): Promise<LmFixture> {
  const files = nodeModelFiles(dir);
  const plan = await openModel(files);
  const weights = await readWeights(plan);
  await files.close();
  const exp = join(dir, 'expected');
  return {
    dir,
    plan,
    weights,
    prompts: JSON.parse(readFileSync(join(exp, 'prompts.json'), 'utf8')),
    greedy: JSON.parse(readFileSync(join(exp, 'greedy.json'), 'utf8')),
    async expected(name: string) {
      const src = await openNpy(memorySource(new Uint8Array(readFileSync(join(exp, name))), name));
      return { data: await src.readRows(0, src.rows), rows: src.rows, d: src.d };
    },
    steerVector() {
      return readNpyVector(memorySource(new Uint8Array(readFileSync(join(exp, 'steer.vec.npy'))), 'steer.vec.npy'));
    },
  };
}

/** the fixtures' rule: every value within 1e-4 of max(1, |reference|) */
export function expectMatches(got: ArrayLike<number>, want: ArrayLike<number>, what: string): void {
  expect(got.length, `${what}: length`).toBe(want.length);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i] - want[i]) / Math.max(1, Math.abs(want[i]));
    if (!(err <= worst)) {
      worst = Number.isNaN(err) ? Infinity : err;
      at = i;
    }
  }
  expect(worst, `${what}: worst error ${worst} at ${at} (got ${got[at]}, want ${want[at]})`).toBeLessThanOrEqual(1e-4);
}
