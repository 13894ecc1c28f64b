// The model families the engine runs, found by config.json's architectures[0]. Adding a family is one
// module (its config fields and weight names) and one line here; the kernels already cover the parts.
import type { LmConfig, WeightSpec } from '../config.ts';
import { ConfigReader, type Json } from './read-config.ts';
import { gpt2 } from './gpt2.ts';
import { llama } from './llama.ts';

export interface Family {
  name: string;
  /** the `architectures` entries of config.json this family reads */
  architectures: string[];
  parse(r: ConfigReader): LmConfig;
  /** every stored tensor the model needs, by its name without the prefix */
  weights(c: LmConfig): WeightSpec[];
  /** the prefixes stored names may carry, tried in order (the first that finds the embedding wins) */
  prefixes: string[];
  /** the untied unembedding's full stored name */
  unembedding: string;
  /** Hugging Face module names (PyTorch's named_modules) whose outputs are hook activations: src/model/hf-modules.ts */
  modules: HfModules;
}

export interface HfModules {
  /** the base model inside the *ForCausalLM class ('model', 'transformer') */
  base: string;
  /** the module whose output is blocks.0.hook_resid_pre, relative to the base */
  embedOut: string;
  /** the list of blocks, relative to the base ('layers', 'h') */
  blocks: string;
  /** a block's attention and MLP, relative to the block */
  attn: string;
  mlp: string;
}

export const FAMILIES: readonly Family[] = [gpt2, llama];

export function supportedArchitectures(): string[] {
  return FAMILIES.flatMap((f) => f.architectures);
}

/** config.json's text → the family that runs it and the canonical config; refusals name the file */
export function parseModelConfig(text: string, file: string): { family: Family; config: LmConfig } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ConfigReader({}, file).fail(`not valid JSON (${(e as Error).message})`);
  }
  const r = new ConfigReader((json ?? {}) as Json, file);
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw r.fail('not a JSON object');
  const archs = r.json.architectures;
  if (!Array.isArray(archs) || archs.length === 0 || typeof archs[0] !== 'string') {
    throw r.fail(`'architectures' must list the model class (supported: ${supportedArchitectures().join(', ')})`);
  }
  const family = FAMILIES.find((f) => f.architectures.includes(archs[0]));
  if (!family) throw r.fail(`architecture ${archs[0]} is not supported; supported: ${supportedArchitectures().join(', ')}`);
  const config = family.parse(r);
  // the attention kernel keeps a query and its output in registers (shaders/attention.wgsl MAX_HD)
  if (config.headDim > MAX_HEAD_DIM) throw r.fail(`a head size of ${config.headDim} is more than the ${MAX_HEAD_DIM} the attention kernel holds`);
  return { family, config };
}

/** shaders/attention.wgsl's MAX_HD */
export const MAX_HEAD_DIM = 256;
