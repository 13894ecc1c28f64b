// A causal language model (src/model/config.ts: its config and canonical weights, the engine's own) as an
// ONNX graph of standard opset-17 ops, so that onnxruntime-web runs the same weights with the same math as
// the engine: token ids int64 (B, T) in, logits float (B, T, vocab) out, every position. Shapes are fixed to
// B and T (as the bench runs them), which lets every Reshape take a constant and the causal mask and rotary
// tables be initializers. Written as Hugging Face exports write these models (Gather embeddings, MatMul
// linears with Add biases, LayerNormalization, Pow/ReduceMean/Sqrt RMSNorm, Softmax attention), so
// onnxruntime's own graph fusions (LayerNorm, SimplifiedLayerNorm, Gelu) see the patterns they look for.
import type { LmConfig, LmWeights } from '../../src/model/config.ts';
import { rotaryTable } from '../../src/model/rotary.ts';
import { modelProto, type Attr, type Graph, type Tensor } from './proto.ts';

export const OPSET = 17;

export function lmToOnnx(c: LmConfig, weights: LmWeights, B: number, T: number, name = 'lm'): Uint8Array {
  return modelProto(lmGraph(c, weights, B, T, name), OPSET, 'sae-lab bench');
}

export function lmGraph(c: LmConfig, weights: LmWeights, B: number, T: number, name = 'lm'): Graph {
  const g: Graph = {
    name,
    nodes: [],
    initializers: [],
    inputs: [{ name: 'input_ids', type: 'int64', dims: [B, T] }],
    outputs: [{ name: 'logits', type: 'float', dims: [B, T, c.vocab] }],
  };
  let counter = 0;
  const op = (type: string, inputs: string[], attrs?: Record<string, Attr>, outputs = 1): string[] => {
    const outs = Array.from({ length: outputs }, () => `t${counter++}`);
    g.nodes.push({ op: type, inputs, outputs: outs, attrs });
    return outs;
  };
  const op1 = (type: string, inputs: string[], attrs?: Record<string, Attr>) => op(type, inputs, attrs)[0]!;
  const init = (t: Tensor) => (g.initializers.push(t), t.name);
  const weight = (key: string) => {
    const data = weights.get(key);
    if (!data) throw new Error(`${name}: weight ${key} is missing`);
    if (!g.initializers.some((t) => t.name === key)) init({ name: key, type: 'float', dims: shapeOf(c, key, data.length), data });
    return key;
  };
  const scalars = new Map<number, string>();
  const scalar = (v: number) => {
    let n = scalars.get(v);
    if (!n) scalars.set(v, (n = init({ name: `const_${scalars.size}`, type: 'float', dims: [], data: Float32Array.of(v) })));
    return n;
  };
  const ints = (label: string, values: number[]) => init({ name: `${label}_${counter++}`, type: 'int64', dims: [values.length], data: BigInt64Array.from(values.map(BigInt)) });
  const linear = (x: string, key: string) => {
    const y = op1('MatMul', [x, weight(`${key}.w`)]);
    return weights.has(`${key}.b`) ? op1('Add', [y, weight(`${key}.b`)]) : y;
  };
  const norm = (x: string, key: string) => {
    if (c.norm === 'layernorm') return op1('LayerNormalization', [x, weight(`${key}.w`), weight(`${key}.b`)], { axis: -1, epsilon: { float: c.normEps } });
    const ms = op1('ReduceMean', [op1('Pow', [x, scalar(2)])], { axes: [-1], keepdims: 1 });
    const rms = op1('Sqrt', [op1('Add', [ms, scalar(c.normEps)])]);
    return op1('Mul', [weight(`${key}.w`), op1('Div', [x, rms])]);
  };
  const act = (x: string): string => {
    switch (c.activation) {
      case 'gelu_tanh': {
        const inner = op1('Mul', [op1('Add', [x, op1('Mul', [op1('Pow', [x, scalar(3)]), scalar(0.044715)])]), scalar(Math.sqrt(2 / Math.PI))]);
        return op1('Mul', [op1('Mul', [x, scalar(0.5)]), op1('Add', [op1('Tanh', [inner]), scalar(1)])]);
      }
      case 'gelu_erf':
        return op1('Mul', [op1('Mul', [x, scalar(0.5)]), op1('Add', [op1('Erf', [op1('Div', [x, scalar(Math.SQRT2)])]), scalar(1)])]);
      case 'relu':
        return op1('Relu', [x]);
      case 'silu':
        return op1('Mul', [x, op1('Sigmoid', [x])]);
    }
  };

  const hd = c.headDim;
  const group = c.nHeads / c.nKvHeads;
  // additive causal mask (T, T): 0 on and below the diagonal, a large negative above (finite: no inf − inf)
  const mask = new Float32Array(T * T);
  for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) mask[i * T + j] = -1e30;
  const maskName = init({ name: 'causal_mask', type: 'float', dims: [T, T], data: mask });
  let cos = '';
  let sin = '';
  if (c.positions.kind === 'rotary') {
    const table = rotaryTable(c.positions.invFreq, T);
    cos = init({ name: 'rope_cos', type: 'float', dims: [T, hd / 2], data: table.cos });
    sin = init({ name: 'rope_sin', type: 'float', dims: [T, hd / 2], data: table.sin });
  }
  // rotate-half on (…, T, hd): pairs (i, i + hd/2), as src/model/rotary.ts and the engine's rope_store
  const rope = (x: string) => {
    const [x1, x2] = op('Split', [x, ints('half', [hd / 2, hd / 2])], { axis: -1 }, 2) as [string, string];
    const a = op1('Sub', [op1('Mul', [x1, cos]), op1('Mul', [x2, sin])]);
    const b = op1('Add', [op1('Mul', [x2, cos]), op1('Mul', [x1, sin])]);
    return op1('Concat', [a, b], { axis: -1 });
  };

  let x = op1('Gather', [weight('wte'), 'input_ids'], { axis: 0 });
  if (c.positions.kind === 'learned') {
    const positions = init({ name: 'position_ids', type: 'int64', dims: [T], data: BigInt64Array.from({ length: T }, (_, i) => BigInt(i)) });
    x = op1('Add', [x, op1('Gather', [weight('wpe'), positions], { axis: 0 })]);
  }
  // heads as (B, nKv, group, T, hd): grouped-query attention broadcasts one key/value head over its group
  const qShape = ints('q_shape', [B, T, c.nKvHeads, group, hd]);
  const kvShape = ints('kv_shape', [B, T, c.nKvHeads, 1, hd]);
  const outShape = ints('o_shape', [B, T, c.nHeads * hd]);
  for (let l = 0; l < c.nLayers; l++) {
    const h = norm(x, `L${l}.ln1`);
    const qkv = linear(h, `L${l}.qkv`);
    const [q0, k0, v0] = op('Split', [qkv, ints('qkv_split', [c.nHeads * hd, c.nKvHeads * hd, c.nKvHeads * hd])], { axis: 2 }, 3) as [string, string, string];
    const heads = (t: string, shape: string) => op1('Transpose', [op1('Reshape', [t, shape])], { perm: [0, 2, 3, 1, 4] });
    let q = heads(q0, qShape);
    let k = heads(k0, kvShape);
    const v = heads(v0, kvShape);
    if (c.positions.kind === 'rotary') {
      q = rope(q);
      k = rope(k);
    }
    const scores = op1('Add', [op1('Mul', [op1('MatMul', [q, op1('Transpose', [k], { perm: [0, 1, 2, 4, 3] })]), scalar(c.attnScale[l]!)]), maskName]);
    const o = op1('MatMul', [op1('Softmax', [scores], { axis: -1 }), v]);
    const merged = op1('Reshape', [op1('Transpose', [o], { perm: [0, 3, 1, 2, 4] }), outShape]);
    x = op1('Add', [x, linear(merged, `L${l}.o`)]);
    const u = linear(norm(x, `L${l}.ln2`), `L${l}.up`);
    let f: string;
    if (c.gated) {
      const [gate, up] = op('Split', [u, ints('gate_split', [c.dFf, c.dFf])], { axis: 2 }, 2) as [string, string];
      f = op1('Mul', [act(gate), up]);
    } else {
      f = act(u);
    }
    x = op1('Add', [x, linear(f, `L${l}.down`)]);
  }
  const hf = op1('Reshape', [norm(x, 'lnf'), ints('rows', [B * T, c.d])]);
  // the unembedding (vocab, d) as stored: Gemm with transB, no transposed copy of the table
  const logits = op1('Gemm', [hf, weight(c.tied ? 'wte' : 'unembed')], { transB: 1 });
  g.nodes.push({ op: 'Reshape', inputs: [logits, ints('logits_shape', [B, T, c.vocab])], outputs: ['logits'] });
  return g;
}

/** a canonical weight's dims in the engine's layout (config.ts canonicalShapes) */
function shapeOf(c: LmConfig, key: string, n: number): number[] {
  if (key === 'wte' || key === 'unembed') return [c.vocab, c.d];
  if (key === 'wpe') return [c.maxPositions, c.d];
  const m = /^L\d+\.(\w+)\.(w|b)$/.exec(key);
  if (m?.[2] === 'w') {
    const rows = { qkv: c.d, o: c.nHeads * c.headDim, up: c.d, down: c.dFf }[m[1]!];
    if (rows) return [rows, n / rows];
  }
  return [n];
}
