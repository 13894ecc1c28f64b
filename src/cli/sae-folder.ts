// An SAE folder as the commands read it (SAELens layout, with the held-out rule its training recorded in
// metrics.json), and an SAE evaluated on rows of a file: shared by train, eval, encode, features, split,
// fidelity and the language-model commands.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { rangeChunks } from '../data/batches.ts';
import { ACTIVATION_SCALER_FILE, CFG_FILE, WEIGHTS_FILE, decodeSaelens } from '../data/formats/saelens.ts';
import type { RowSource } from '../data/sources.ts';
import { documentRule, heldOutRule, type DocumentRule, type HeldOutRule } from '../data/split.ts';
import { SaeRunner, type EvalMetrics } from '../engine/evaluate.ts';
import type { SaeWeights } from '../engine/sae.ts';
import { CliError } from './args.ts';

export function loadSaeFolder(dir: string): { sae: SaeWeights; rule?: HeldOutRule | DocumentRule } {
  const cfgPath = join(dir, CFG_FILE);
  const weightsPath = join(dir, WEIGHTS_FILE);
  for (const p of [cfgPath, weightsPath]) if (!existsSync(p)) throw new CliError(`${p}: not found (an SAE folder holds ${CFG_FILE} and ${WEIGHTS_FILE})`);
  const scalerPath = join(dir, ACTIVATION_SCALER_FILE);
  const extras = existsSync(scalerPath) ? { activationScaler: readFileSync(scalerPath, 'utf8') } : {};
  const sae = decodeSaelens(readFileSync(cfgPath, 'utf8'), new Uint8Array(readFileSync(weightsPath)), dir, extras);
  const metricsPath = join(dir, 'metrics.json');
  if (!existsSync(metricsPath)) return { sae };
  try {
    const held = JSON.parse(readFileSync(metricsPath, 'utf8')).held_out;
    if (!held) return { sae };
    return { sae, rule: held.kind === 'documents' ? documentRule(held.seed) : heldOutRule(held.seed) };
  } catch (e) {
    throw new CliError(`${metricsPath}: not valid JSON (${(e as Error).message})`);
  }
}

export async function evaluateSae(
  device: GPUDevice,
  sae: SaeWeights,
  rows: RowSource,
  ranges: [number, number][],
  target?: RowSource,
): Promise<EvalMetrics & { density: Float64Array }> {
  const runner = new SaeRunner(device, sae, 512);
  try {
    return await runner.evaluate(target ? pairedChunks(rows, target, ranges) : rangeChunks(rows, ranges));
  } finally {
    runner.destroy();
  }
}

/** a transcoder's (input, output) rows over the same ranges */
async function* pairedChunks(rows: RowSource, target: RowSource, ranges: [number, number][]): AsyncGenerator<{ x: Float32Array; y: Float32Array }> {
  const ys = rangeChunks(target, ranges);
  for await (const x of rangeChunks(rows, ranges)) yield { x, y: (await ys.next()).value as Float32Array };
}
