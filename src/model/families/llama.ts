// Llama (LlamaForCausalLM; also SmolLM2, TinyLlama and Llama-3.2 shapes): RMSNorm, rotary positions with
// grouped key/value heads, a SiLU-gated MLP, torch Linear weights stored (out, in).
import type { Activation, LmConfig, WeightSpec } from '../config.ts';
import type { Family } from './registry.ts';
import { ConfigReader, type Json } from './read-config.ts';
import { rotaryInvFreq } from '../rotary.ts';

const ACTIVATIONS: Record<string, Activation> = { silu: 'silu', swish: 'silu', gelu: 'gelu_erf', gelu_pytorch_tanh: 'gelu_tanh', gelu_new: 'gelu_tanh', relu: 'relu' };

function parse(r: ConfigReader): LmConfig {
  const nLayers = r.int('num_hidden_layers');
  const d = r.int('hidden_size');
  const nHeads = r.int('num_attention_heads');
  const nKvHeads = r.int('num_key_value_heads', nHeads);
  if (nHeads % nKvHeads !== 0) throw r.fail(`'num_attention_heads' ${nHeads} is not a multiple of 'num_key_value_heads' ${nKvHeads}`);
  if (!r.has('head_dim') && d % nHeads !== 0) throw r.fail(`'hidden_size' ${d} is not a multiple of 'num_attention_heads' ${nHeads} and no 'head_dim' is given`);
  const headDim = r.int('head_dim', d / nHeads);
  if (headDim % 2 !== 0) throw r.fail(`'head_dim' ${headDim} is odd; rotary embeddings rotate pairs`);
  r.expect('partial_rotary_factor', (v) => v === 1 || v === 1.0, 'rotary embeddings over the whole head');
  const act = r.oneOf('hidden_act', Object.keys(ACTIVATIONS), 'silu');
  const maxPositions = r.int('max_position_embeddings', 2048);
  const { theta, scaling } = ropeSettings(r);
  const attnBias = r.bool('attention_bias', false);
  const mlpBias = r.bool('mlp_bias', false);
  return {
    family: 'llama',
    architecture: 'LlamaForCausalLM',
    nLayers, d, nHeads, nKvHeads, headDim,
    dFf: r.int('intermediate_size'),
    vocab: r.int('vocab_size'),
    maxPositions,
    norm: 'rmsnorm',
    normEps: r.positive('rms_norm_eps', 1e-6),
    activation: ACTIVATIONS[act],
    gated: true,
    positions: { kind: 'rotary', invFreq: rotaryInvFreq(headDim, theta, scaling, r) },
    attnScale: new Array<number>(nLayers).fill(1 / Math.sqrt(headDim)),
    tied: r.bool('tie_word_embeddings', false),
    bias: { qkv: attnBias, o: attnBias, mlp: mlpBias },
    bosTokenId: r.ids('bos_token_id')[0] ?? null,
    eosTokenIds: r.ids('eos_token_id'),
  };
}

/** rope_theta and rope_scaling (transformers 4), or rope_parameters (transformers 5) */
function ropeSettings(r: ConfigReader): { theta: number; scaling: Json | null } {
  const params = r.json.rope_parameters;
  if (params && typeof params === 'object' && !Array.isArray(params)) {
    const p = params as Json;
    const theta = p.rope_theta ?? r.json.rope_theta ?? 10000;
    if (typeof theta !== 'number' || !(theta > 0)) throw r.fail(`'rope_parameters.rope_theta' must be a positive number, got ${JSON.stringify(theta)}`);
    return { theta, scaling: p };
  }
  const scaling = r.json.rope_scaling;
  if (scaling !== undefined && scaling !== null && (typeof scaling !== 'object' || Array.isArray(scaling))) {
    throw r.fail(`'rope_scaling' must be an object or null, got ${JSON.stringify(scaling)}`);
  }
  return { theta: r.positive('rope_theta', 10000), scaling: (scaling as Json | null | undefined) ?? null };
}

function weights(c: LmConfig): WeightSpec[] {
  const { d, headDim: hd } = c;
  const specs: WeightSpec[] = [{ key: 'wte', layout: 'table', parts: [{ name: 'embed_tokens.weight', shape: [c.vocab, d] }] }];
  const vec = (key: string, name: string, n: number): WeightSpec => ({ key, layout: 'vector', parts: [{ name, shape: [n] }] });
  for (let l = 0; l < c.nLayers; l++) {
    const p = `layers.${l}`;
    const a = `${p}.self_attn`;
    const m = `${p}.mlp`;
    specs.push(
      vec(`L${l}.ln1.w`, `${p}.input_layernorm.weight`, d),
      { key: `L${l}.qkv.w`, layout: 'out_in', parts: [
        { name: `${a}.q_proj.weight`, shape: [c.nHeads * hd, d] },
        { name: `${a}.k_proj.weight`, shape: [c.nKvHeads * hd, d] },
        { name: `${a}.v_proj.weight`, shape: [c.nKvHeads * hd, d] },
      ] },
      { key: `L${l}.o.w`, layout: 'out_in', parts: [{ name: `${a}.o_proj.weight`, shape: [d, c.nHeads * hd] }] },
      vec(`L${l}.ln2.w`, `${p}.post_attention_layernorm.weight`, d),
      { key: `L${l}.up.w`, layout: 'out_in', parts: [
        { name: `${m}.gate_proj.weight`, shape: [c.dFf, d] },
        { name: `${m}.up_proj.weight`, shape: [c.dFf, d] },
      ] },
      { key: `L${l}.down.w`, layout: 'out_in', parts: [{ name: `${m}.down_proj.weight`, shape: [d, c.dFf] }] },
    );
    if (c.bias.qkv) {
      specs.push({ key: `L${l}.qkv.b`, layout: 'vector', parts: [
        { name: `${a}.q_proj.bias`, shape: [c.nHeads * hd] },
        { name: `${a}.k_proj.bias`, shape: [c.nKvHeads * hd] },
        { name: `${a}.v_proj.bias`, shape: [c.nKvHeads * hd] },
      ] });
      specs.push(vec(`L${l}.o.b`, `${a}.o_proj.bias`, d));
    }
    if (c.bias.mlp) {
      specs.push({ key: `L${l}.up.b`, layout: 'vector', parts: [
        { name: `${m}.gate_proj.bias`, shape: [c.dFf] },
        { name: `${m}.up_proj.bias`, shape: [c.dFf] },
      ] });
      specs.push(vec(`L${l}.down.b`, `${m}.down_proj.bias`, d));
    }
  }
  specs.push(vec('lnf.w', 'norm.weight', d));
  return specs;
}

export const llama: Family = {
  name: 'llama',
  architectures: ['LlamaForCausalLM'],
  parse,
  weights,
  prefixes: ['model.'],
  unembedding: 'lm_head.weight',
  modules: { base: 'model', embedOut: 'embed_tokens', blocks: 'layers', attn: 'self_attn', mlp: 'mlp' },
};
