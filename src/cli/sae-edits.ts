// What `forward` and `generate` share for an SAE spliced into the model: --sae DIR (read and checked before
// the model is loaded), --steer F=α and --clamp F=v (comma-separated lists), checked against the SAE, and
// the hook edit made once the model is on the device.
import { SaeSplice, checkSaeForModel, specialTokenIds, type FeatureEdits, type SpliceOptions } from '../model/sae-splice.ts';
import type { HookEdit, LanguageModel } from '../model/lm.ts';
import type { LmConfig } from '../model/config.ts';
import type { SaeWeights } from '../engine/sae.ts';
import { CliError, required } from './args.ts';
import { loadCliModel, type CliModel } from './model.ts';
import type { ModelPlan } from '../model/folder.ts';
import { loadSaeFolder } from './sae-folder.ts';

export const SAE_OPTIONS = {
  sae: { type: 'string', help: 'SAELens SAE folder to splice in at its hook (cfg.json metadata.hook_name)' },
  hook: { type: 'string', help: "with --sae: the hook it reads, for an SAE whose cfg.json names none" },
  steer: { type: 'string', help: "F=α[,F=α…]: add α·W_dec of feature F at the SAE's hook at every position" },
  clamp: { type: 'string', help: "F=v[,F=v…]: set feature F's activation to v at every position (the error term kept in generate)" },
} as const;

export interface CliSae {
  dir: string;
  sae: SaeWeights;
  hook: string;
  edits: FeatureEdits;
}

function pairs(arg: unknown, flag: string, sae: SaeWeights, dir: string): { feature: number; x: number }[] {
  if (arg === undefined) return [];
  return String(arg).split(',').map((part) => {
    const m = /^\s*(\d+)\s*=\s*([-+0-9.eE]+)\s*$/.exec(part);
    const feature = Number(m?.[1]);
    const x = Number(m?.[2]);
    if (!m || !Number.isFinite(x)) throw new CliError(`--${flag} must be F=value (comma-separated), got '${part}'`, 2);
    if (feature >= sae.features) throw new CliError(`--${flag} ${part}: ${dir} has ${sae.features} features (0 … ${sae.features - 1})`, 2);
    return { feature, x };
  });
}

/** --sae and its edits, checked against the model's config (before its weights are read); undefined without --sae */
export function cliSae(v: Record<string, unknown>, c: LmConfig, modelName: string, cmd: string): CliSae | undefined {
  if (v.sae === undefined) {
    for (const flag of ['steer', 'clamp', 'error-term', 'hook']) if (v[flag] !== undefined && v[flag] !== false) throw new CliError(`sae-lab ${cmd}: --${flag} needs --sae`, 2);
    return undefined;
  }
  const dir = String(v.sae);
  const { sae } = loadSaeFolder(dir);
  let checked;
  try {
    checked = checkSaeForModel(sae, dir, c, modelName, v.hook === undefined ? undefined : String(v.hook));
  } catch (e) {
    throw new CliError((e as Error).message);
  }
  if (checked.warning) process.stderr.write(`warning: ${checked.warning}\n`);
  const steer = pairs(v.steer, 'steer', sae, dir).map(({ feature, x }) => ({ feature, alpha: x }));
  const clamp = pairs(v.clamp, 'clamp', sae, dir).map(({ feature, x }) => ({ feature, value: x }));
  return { dir, sae, hook: checked.hook, edits: { steer, clamp } };
}

/**
 * --model with the SAE of --sae on it (checked against each other before the weights are read), with room
 * for `batch` sequences of `context(plan)` tokens.
 */
export async function loadModelWithSae(v: Record<string, unknown>, cmd: string, batch: number, context: (plan: ModelPlan) => number): Promise<CliModel<CliSae>> {
  const model = required(v, 'model', cmd);
  required(v, 'sae', cmd);
  return loadCliModel(model, async (plan, name) => ({ input: cliSae(v, plan.config, name, cmd)!, batch, context: context(plan) }));
}

/** The splice on the model's device and its edit at the hook (the caller destroys the splice). */
export function spliceEdit(lm: LanguageModel, s: CliSae, rows: number, errorTerm: boolean): { splice: SaeSplice; edits: Map<string, HookEdit> } {
  const splice = new SaeSplice(lm.device, s.sae, rows, specialTokenIds(lm.config));
  const o: SpliceOptions = { errorTerm, ...s.edits };
  return { splice, edits: new Map([[s.hook, splice.edit(o)]]) };
}
