// What the model commands share: a Hugging Face model folder opened and checked whole, then put on the
// device only when it fits (the adapter's limits are checked before a device exists), and the prompt as
// text or ids.
import { basename, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { requestNodeDevice, type NodeGpu } from '../engine/node-device.ts';
import { openModel, readWeights, type ModelPlan } from '../model/folder.ts';
import { nodeModelFiles } from '../model/node-files.ts';
import { LanguageModel } from '../model/lm.ts';
import type { LmWeights } from '../model/config.ts';
import { checkLmFits } from '../model/memory.ts';
import { CliError } from './args.ts';

export interface CliModel<T> {
  /** the model folder's name (a Hub id's last part, as in 'gpt2' or 'SmolLM2-135M'; 'builtin-lm'), as SAELens's model_name */
  name: string;
  /** the folder's absolute path */
  path: string;
  plan: ModelPlan;
  /** the weights as read (on the device in lm; kept for work on the CPU such as logit effects) */
  weights: LmWeights;
  lm: LanguageModel;
  gpu: NodeGpu;
  /** what `prepare` made of the command's input */
  input: T;
}

/**
 * The model of folder `dir` on the device. `prepare` checks the command's input against the model (before
 * any weight is read or device made), given the model's name, and says how many sequences of how many tokens it needs room for.
 */
export async function loadCliModel<T>(dir: string, prepare: (plan: ModelPlan, name: string) => Promise<{ input: T; batch: number; context: number }>): Promise<CliModel<T>> {
  dir = modelDir(dir);
  const name = basename(resolve(dir));
  const files = nodeModelFiles(dir);
  try {
    const plan = await openModel(files);
    const { input, batch, context } = await prepare(plan, name);
    if (context > plan.config.maxPositions) throw new CliError(`${dir}: ${context} tokens are more than the model's ${plan.config.maxPositions} positions`);
    const gpu = await requestNodeDevice((limits) => checkLmFits(plan.config, batch, context, limits, dir));
    const weights = await readWeights(plan);
    const lm = LanguageModel.create(gpu.device, plan.config, weights, dir, batch, context);
    return { name, path: resolve(dir), plan, weights, lm, gpu, input };
  } finally {
    await files.close();
  }
}

/** the built-in model's folder in this checkout (public/models/builtin-lm) */
export const BUILTIN_MODEL_DIR = fileURLToPath(new URL('../../public/models/builtin-lm', import.meta.url));

/** --model as a folder: 'builtin' is the lab's own model */
function modelDir(dir: string): string {
  return dir === 'builtin' ? BUILTIN_MODEL_DIR : dir;
}

/** --text through the model's tokenizer, or --ids as given (exactly one of them) */
export function promptIds(plan: ModelPlan, v: Record<string, unknown>, cmd: string): number[] {
  const text = v.text as string | undefined;
  const ids = v.ids as string | undefined;
  if ((text === undefined) === (ids === undefined)) throw new CliError(`sae-lab ${cmd}: give exactly one of --text and --ids`, 2);
  if (text !== undefined) {
    const out = plan.tokenizer.encode(text);
    if (out.length === 0) throw new CliError(`sae-lab ${cmd}: --text gives no tokens`, 2);
    return out;
  }
  const list = ids!.split(',').map((s) => s.trim());
  const out = list.map(Number);
  const bad = list.find((s, i) => s === '' || !Number.isSafeInteger(out[i]) || out[i] < 0 || out[i] >= plan.config.vocab);
  if (bad !== undefined) throw new CliError(`--ids: '${bad}' is not a token id of this model (0 … ${plan.config.vocab - 1})`, 2);
  return out;
}
