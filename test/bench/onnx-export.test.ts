// The bench's ONNX export (bench/onnx/): a tiny random model of each family, written as ONNX and run by
// onnxruntime-web's WASM backend in Node, against the float64 reference forward pass
// (src/reference/transformer.ts) on the same weights — so a peer row of `npm run bench` computes the model
// the engine computes. Two sequences in one batch, each compared with the reference run alone.
import { describe, expect, it } from 'vitest';
import { parseModelConfig } from '../../src/model/families/registry.ts';
import { referenceForward } from '../../src/reference/transformer.ts';
import { randomWeights } from '../../bench/lm-models.ts';
import { lmToOnnx } from '../../bench/onnx/lm-graph.ts';
import { Buf } from '../../bench/onnx/proto.ts';

const CONFIGS = {
  gpt2: { architectures: ['GPT2LMHeadModel'], vocab_size: 97, n_embd: 32, n_layer: 2, n_head: 4, n_positions: 16, scale_attn_by_inverse_layer_idx: true },
  llama: {
    architectures: ['LlamaForCausalLM'], vocab_size: 89, hidden_size: 48, num_hidden_layers: 2, num_attention_heads: 6, num_key_value_heads: 2,
    intermediate_size: 40, max_position_embeddings: 16, tie_word_embeddings: false, rope_theta: 500,
  },
};

describe('ONNX export of a language model', () => {
  it('writes varints as protobuf does (negative numbers as 10 bytes)', () => {
    expect(Array.from(new Buf().varint(300).join())).toEqual([0xac, 0x02]);
    expect(Array.from(new Buf().varint(-1).join())).toEqual([...new Array(9).fill(0xff), 0x01]);
  });

  for (const [family, json] of Object.entries(CONFIGS)) {
    it(`${family}: onnxruntime-web (WASM, Node) matches the float64 reference`, async () => {
      const ort = await import('onnxruntime-web');
      const c = parseModelConfig(JSON.stringify(json), `${family} test config`).config;
      const w = randomWeights(c, 5);
      const B = 2;
      const T = 7;
      const ids = Array.from({ length: B * T }, (_, i) => (i * 37 + 11) % c.vocab);
      const session = await ort.InferenceSession.create(lmToOnnx(c, w, B, T), { executionProviders: ['wasm'] });
      const out = await session.run({ input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [B, T]) });
      const got = out.logits!.data as Float32Array;
      expect(out.logits!.dims).toEqual([B, T, c.vocab]);
      for (let b = 0; b < B; b++) {
        const ref = referenceForward(c, w, ids.slice(b * T, (b + 1) * T)).logits;
        const scale = ref.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        let dev = 0;
        for (let i = 0; i < ref.length; i++) dev = Math.max(dev, Math.abs(got[b * T * c.vocab + i]! - ref[i]!));
        expect(dev / scale).toBeLessThan(1e-5);
      }
      await session.release();
    });
  }
});
