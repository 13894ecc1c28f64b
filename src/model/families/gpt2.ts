// GPT-2 (GPT2LMHeadModel): learned positions, LayerNorm before attention and MLP, a GELU MLP, Conv1D
// weights stored (in, out), the unembedding tied to the token embedding unless the config says otherwise.
import type { Activation, LmConfig, WeightSpec } from '../config.ts';
import type { Family } from './registry.ts';
import { ConfigReader } from './read-config.ts';

const ACTIVATIONS: Record<string, Activation> = {
  gelu_new: 'gelu_tanh', gelu_pytorch_tanh: 'gelu_tanh', gelu_fast: 'gelu_tanh', gelu: 'gelu_erf', relu: 'relu', silu: 'silu', swish: 'silu',
};

function parse(r: ConfigReader): LmConfig {
  r.expect('add_cross_attention', (v) => v === false, 'a decoder without cross-attention');
  const nLayers = r.int('n_layer');
  const d = r.int('n_embd');
  const nHeads = r.int('n_head');
  if (d % nHeads !== 0) throw r.fail(`'n_embd' ${d} is not a multiple of 'n_head' ${nHeads}`);
  const headDim = d / nHeads;
  const act = r.oneOf('activation_function', Object.keys(ACTIVATIONS), 'gelu_new');
  const scale = r.bool('scale_attn_weights', true) ? 1 / Math.sqrt(headDim) : 1;
  const byLayer = r.bool('scale_attn_by_inverse_layer_idx', false);
  return {
    family: 'gpt2',
    architecture: 'GPT2LMHeadModel',
    nLayers, d, nHeads, nKvHeads: nHeads, headDim,
    dFf: r.int('n_inner', 4 * d),
    vocab: r.int('vocab_size'),
    maxPositions: r.int('n_positions', r.int('n_ctx', 1024)),
    norm: 'layernorm',
    normEps: r.positive('layer_norm_epsilon', 1e-5),
    activation: ACTIVATIONS[act],
    gated: false,
    positions: { kind: 'learned' },
    attnScale: Array.from({ length: nLayers }, (_, l) => (byLayer ? scale / (l + 1) : scale)),
    tied: r.bool('tie_word_embeddings', true),
    bias: { qkv: true, o: true, mlp: true },
    bosTokenId: r.ids('bos_token_id')[0] ?? null,
    eosTokenIds: r.ids('eos_token_id'),
  };
}

function weights(c: LmConfig): WeightSpec[] {
  const { d } = c;
  const specs: WeightSpec[] = [
    { key: 'wte', layout: 'table', parts: [{ name: 'wte.weight', shape: [c.vocab, d] }] },
    { key: 'wpe', layout: 'table', parts: [{ name: 'wpe.weight', shape: [c.maxPositions, d] }] },
  ];
  const vec = (key: string, name: string, n: number): WeightSpec => ({ key, layout: 'vector', parts: [{ name, shape: [n] }] });
  const mat = (key: string, name: string, rows: number, cols: number): WeightSpec => ({ key, layout: 'in_out', parts: [{ name, shape: [rows, cols] }] });
  for (let l = 0; l < c.nLayers; l++) {
    const h = `h.${l}`;
    specs.push(
      vec(`L${l}.ln1.w`, `${h}.ln_1.weight`, d), vec(`L${l}.ln1.b`, `${h}.ln_1.bias`, d),
      mat(`L${l}.qkv.w`, `${h}.attn.c_attn.weight`, d, 3 * d), vec(`L${l}.qkv.b`, `${h}.attn.c_attn.bias`, 3 * d),
      mat(`L${l}.o.w`, `${h}.attn.c_proj.weight`, d, d), vec(`L${l}.o.b`, `${h}.attn.c_proj.bias`, d),
      vec(`L${l}.ln2.w`, `${h}.ln_2.weight`, d), vec(`L${l}.ln2.b`, `${h}.ln_2.bias`, d),
      mat(`L${l}.up.w`, `${h}.mlp.c_fc.weight`, d, c.dFf), vec(`L${l}.up.b`, `${h}.mlp.c_fc.bias`, c.dFf),
      mat(`L${l}.down.w`, `${h}.mlp.c_proj.weight`, c.dFf, d), vec(`L${l}.down.b`, `${h}.mlp.c_proj.bias`, d),
    );
  }
  specs.push(vec('lnf.w', 'ln_f.weight', d), vec('lnf.b', 'ln_f.bias', d));
  return specs;
}

export const gpt2: Family = {
  name: 'gpt2',
  architectures: ['GPT2LMHeadModel'],
  parse,
  weights,
  // saved by GPT2LMHeadModel under 'transformer.', by the original GPT2Model checkpoints without it
  prefixes: ['transformer.', ''],
  unembedding: 'lm_head.weight',
  // the embedding's output is the dropout after wte + wpe (the identity in evaluation)
  modules: { base: 'transformer', embedOut: 'drop', blocks: 'h', attn: 'attn', mlp: 'mlp' },
};
