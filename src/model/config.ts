// What the engine needs to know of a causal language model, whatever family it came from: one canonical
// description that the family modules (families/) read out of a Hugging Face config.json.

export type NormKind = 'layernorm' | 'rmsnorm';
/** the MLP's non-linearity: GPT-2's is applied to one up-projection, Llama's gates a second one */
export type Activation = 'gelu_tanh' | 'gelu_erf' | 'relu' | 'silu';

export interface LmConfig {
  /** the registered family ('gpt2', 'llama') */
  family: string;
  /** config.json's architectures[0] */
  architecture: string;
  nLayers: number;
  /** residual stream width */
  d: number;
  nHeads: number;
  /** key/value heads (grouped-query attention: nHeads is a multiple of it) */
  nKvHeads: number;
  headDim: number;
  /** the MLP's hidden width (one branch of a gated MLP) */
  dFf: number;
  vocab: number;
  /** longest context the model was built for */
  maxPositions: number;
  norm: NormKind;
  normEps: number;
  activation: Activation;
  /** the MLP multiplies act(gate) by a second up-projection (SwiGLU) */
  gated: boolean;
  /** learned position embeddings (GPT-2) or rotary ones (Llama) with these inverse frequencies (headDim/2) */
  positions: { kind: 'learned' } | { kind: 'rotary'; invFreq: number[] };
  /** the factor scores are multiplied by in each layer (1/√headDim, GPT-2 may divide by the layer too) */
  attnScale: number[];
  /** the unembedding is the token embedding's transpose */
  tied: boolean;
  bias: { qkv: boolean; o: boolean; mlp: boolean };
  bosTokenId: number | null;
  eosTokenIds: number[];
}

/** One canonical weight: which stored tensors make it and how they are laid out. */
export interface WeightSpec {
  /** canonical name, e.g. 'L0.qkv.w' */
  key: string;
  /** the stored tensors, concatenated along the output dimension in this order; names are without the
   *  family's prefix unless `absolute` */
  parts: { name: string; shape: number[]; absolute?: boolean }[];
  /**
   * 'vector' (n), 'table' (rows, d: embeddings, kept as stored), 'in_out' (in, out: GPT-2's Conv1D, kept),
   * 'out_in' (out, in: torch's Linear, transposed to (in, out) so every linear layer is X·W)
   */
  layout: 'vector' | 'table' | 'in_out' | 'out_in';
}

/** Columns of the fused query/key/value projection. */
export function qkvWidth(c: LmConfig): number {
  return (c.nHeads + 2 * c.nKvHeads) * c.headDim;
}

/** Columns of the MLP's up-projection (gate and up side by side when gated). */
export function upWidth(c: LmConfig): number {
  return c.gated ? 2 * c.dFf : c.dFf;
}

/** The canonical weights every family provides, with their shapes in the engine's layout. */
export function canonicalShapes(c: LmConfig): Map<string, number[]> {
  const m = new Map<string, number[]>();
  m.set('wte', [c.vocab, c.d]);
  if (c.positions.kind === 'learned') m.set('wpe', [c.maxPositions, c.d]);
  for (let l = 0; l < c.nLayers; l++) {
    m.set(`L${l}.ln1.w`, [c.d]);
    if (c.norm === 'layernorm') m.set(`L${l}.ln1.b`, [c.d]);
    m.set(`L${l}.qkv.w`, [c.d, qkvWidth(c)]);
    if (c.bias.qkv) m.set(`L${l}.qkv.b`, [qkvWidth(c)]);
    m.set(`L${l}.o.w`, [c.nHeads * c.headDim, c.d]);
    if (c.bias.o) m.set(`L${l}.o.b`, [c.d]);
    m.set(`L${l}.ln2.w`, [c.d]);
    if (c.norm === 'layernorm') m.set(`L${l}.ln2.b`, [c.d]);
    m.set(`L${l}.up.w`, [c.d, upWidth(c)]);
    if (c.bias.mlp) m.set(`L${l}.up.b`, [upWidth(c)]);
    m.set(`L${l}.down.w`, [c.dFf, c.d]);
    if (c.bias.mlp) m.set(`L${l}.down.b`, [c.d]);
  }
  m.set('lnf.w', [c.d]);
  if (c.norm === 'layernorm') m.set('lnf.b', [c.d]);
  if (!c.tied) m.set('unembed', [c.vocab, c.d]);
  return m;
}

/** Parameters in the canonical weights (the count people quote for a model). */
export function parameterCount(c: LmConfig): number {
  let n = 0;
  for (const shape of canonicalShapes(c).values()) n += shape.reduce((a, b) => a * b, 1);
  return n;
}

/** The canonical weights, float32, in the engine's layout (see WeightSpec). */
export type LmWeights = Map<string, Float32Array>;
