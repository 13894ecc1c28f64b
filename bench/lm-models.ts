// The language models of the bench's LM part, made the same way in Node and in the bench page: the config
// from a config.json the family parsers read (src/model/families/), the weights either the built-in model's
// folder (public/models/builtin-lm/, read by src/model/folder.ts) or seeded random ones of a given shape,
// and the token ids seeded too. Nothing here imports Node: the page builds a 500 MB model itself instead of
// receiving it.
import { blobSource } from '../src/data/blob-source.ts';
import { Rng } from '../src/engine/random.ts';
import { canonicalShapes, parameterCount, type LmConfig, type LmWeights } from '../src/model/config.ts';
import { parseModelConfig } from '../src/model/families/registry.ts';
import { openModel, readWeights, type ModelFiles } from '../src/model/folder.ts';

export type LmModelId = 'builtin' | 'gpt2-small';

export interface LmModelSpec {
  id: LmModelId;
  /** sequences per pass and tokens per sequence: one harvest pass is B × T tokens */
  batch: number;
  context: number;
}

/** Where the built-in model's files are, relative to the repository root (served at /models/builtin-lm/). */
export const BUILTIN_DIR = 'public/models/builtin-lm';

/** The built-in model's shape (scripts/lm/train-builtin.py), for a random stand-in while its folder is absent. */
const BUILTIN_SHAPE = {
  architectures: ['LlamaForCausalLM'],
  vocab_size: 4096,
  hidden_size: 192,
  num_hidden_layers: 4,
  num_attention_heads: 6,
  num_key_value_heads: 2,
  intermediate_size: 512,
  max_position_embeddings: 128,
  rope_theta: 10000,
  rms_norm_eps: 1e-5,
  tie_word_embeddings: true,
};

/** GPT-2 small (124M parameters with its tied 50257 × 768 embedding). */
const GPT2_SMALL = {
  architectures: ['GPT2LMHeadModel'],
  vocab_size: 50257,
  n_embd: 768,
  n_layer: 12,
  n_head: 12,
  n_positions: 1024,
  activation_function: 'gelu_new',
  layer_norm_epsilon: 1e-5,
};

const SEED = 20261204;

export interface LmModel {
  config: LmConfig;
  weights: LmWeights;
  /** B × T token ids, sequence after sequence */
  ids: Uint32Array;
  /** 'folder' (the trained model) or 'random' with why */
  source: string;
  name: string;
  params: number;
}

export function configFor(id: LmModelId): LmConfig {
  return parseModelConfig(JSON.stringify(id === 'builtin' ? BUILTIN_SHAPE : GPT2_SMALL), `${id} (bench shape)`).config;
}

/**
 * The model of `spec`: the built-in folder's weights when `builtin` gives its files, else random ones of the
 * shape (norm gains near 1, biases and matrices of GPT-2's initial scale 0.02) from a seed.
 */
export async function makeModel(spec: LmModelSpec, builtin?: ModelFiles, absentWhy = ''): Promise<LmModel> {
  let config: LmConfig;
  let weights: LmWeights;
  let source: string;
  if (spec.id === 'builtin' && builtin) {
    const plan = await openModel(builtin);
    config = plan.config;
    weights = await readWeights(plan);
    source = `trained weights from ${BUILTIN_DIR}`;
  } else {
    config = configFor(spec.id);
    weights = randomWeights(config, SEED);
    source = spec.id === 'builtin' ? `random weights of its shape (${absentWhy || `${BUILTIN_DIR} is absent`})` : 'random weights';
  }
  const rng = new Rng(SEED, 7);
  const ids = Uint32Array.from({ length: spec.batch * spec.context }, () => rng.int(config.vocab));
  return { config, weights, ids, source, name: spec.id === 'builtin' ? 'built-in (Llama)' : 'GPT-2 small shape', params: parameterCount(config) };
}

/** Seeded weights in the engine's layout, each tensor from its own stream (uniform, so one draw per value). */
export function randomWeights(c: LmConfig, seed: number): LmWeights {
  const out: LmWeights = new Map();
  let index = 0;
  for (const [key, shape] of canonicalShapes(c)) {
    const rng = new Rng(seed, index++);
    const n = shape.reduce((a, b) => a * b, 1);
    const isGain = /(ln\d|lnf)\.w$/.test(key);
    // uniform on ±a has standard deviation a/√3
    const a = (isGain ? 0.1 : 0.02) * Math.sqrt(3);
    const base = isGain ? 1 : 0;
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = base + a * (rng.next() / 2147483648 - 1);
    out.set(key, data);
  }
  return out;
}

/** A model folder served over HTTP (the bench page): the files Node found in it, fetched whole. */
export function urlModelFiles(base: string, present: readonly string[]): ModelFiles {
  return {
    name: base,
    async open(file: string) {
      if (!present.includes(file)) return undefined;
      const response = await fetch(`${base}/${file}`);
      if (!response.ok) throw new Error(`${base}/${file}: HTTP ${response.status}`);
      return blobSource(await response.blob(), `${base}/${file}`);
    },
  };
}
