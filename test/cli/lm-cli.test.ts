// sae-lab forward and generate on the fixture models, checked against transformers' outputs through the
// files they write; and every kind of bad model folder refused with one line naming the file and the
// problem, before anything is allocated, with nothing written.
import { closeSync, cpSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openNpy } from '../../src/data/formats/npy.ts';
import { readSafetensorsTensors, encodeSafetensors } from '../../src/data/formats/safetensors.ts';
import { memorySource } from '../../src/data/memory-source.ts';
import { expectRefused, runCli } from '../support/cli.ts';
import { SHARED_LM, expectMatches } from '../support/lm-fixtures.ts';

const dir = mkdtempSync(join(tmpdir(), 'sae-lab-lm-cli-'));
const cli = (...args: string[]) => runCli(dir, ...args);
const GPT2 = join(SHARED_LM, 'gpt2-tiny');
const LLAMA = join(SHARED_LM, 'llama-tiny');

async function npy(path: string): Promise<Float32Array> {
  const src = await openNpy(memorySource(new Uint8Array(readFileSync(path)), path));
  return src.readRows(0, src.rows);
}

/** a copy of a fixture folder, changed by `edit` */
function variant(from: string, name: string, edit: (d: string) => void): string {
  const d = join(dir, name);
  cpSync(from, d, { recursive: true, filter: (s) => !s.includes('expected') });
  edit(d);
  return d;
}

function editJson(path: string, change: (j: Record<string, unknown>) => void): void {
  const j = JSON.parse(readFileSync(path, 'utf8'));
  change(j);
  writeFileSync(path, JSON.stringify(j));
}

describe('sae-lab forward and generate', () => {
  for (const model of [GPT2, LLAMA]) {
    it(`forward writes transformers' hooks and logits, and steered logits (${model.split('/').pop()})`, async () => {
      const prompts = JSON.parse(readFileSync(join(model, 'expected/prompts.json'), 'utf8'));
      const r = cli('forward', '--model', model, '--text', prompts.prompts[1], '--hooks', 'all', '--out', 'fw');
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(readFileSync(join(dir, 'fw/ids.json'), 'utf8'))).toEqual(prompts.ids[1]);
      expectMatches(await npy(join(dir, 'fw/logits.npy')), await npy(join(model, 'expected/P1.logits.npy')), 'logits');
      for (const h of ['blocks.0.hook_resid_pre', 'blocks.1.hook_mlp_out', 'blocks.1.hook_resid_post']) {
        expectMatches(await npy(join(dir, `fw/${h}.npy`)), await npy(join(model, `expected/P1.${h}.npy`)), h);
      }
      const s = cli('forward', '--model', model, '--ids', prompts.ids[0].join(','), '--add', `${prompts.steer.hook}=${join(model, 'expected/steer.vec.npy')}`, '--out', 'steer');
      expect(s.code, s.stderr).toBe(0);
      expectMatches(await npy(join(dir, 'steer/logits.npy')), await npy(join(model, 'expected/steer.logits.npy')), 'steered logits');
      expect(existsSync(join(dir, 'steer/blocks.0.hook_resid_post.npy'))).toBe(false);
      rmSync(join(dir, 'fw'), { recursive: true });
      rmSync(join(dir, 'steer'), { recursive: true });
    });

    it(`generate continues greedily as transformers does (${model.split('/').pop()})`, () => {
      const g = JSON.parse(readFileSync(join(model, 'expected/greedy.json'), 'utf8'));
      const r = cli('generate', '--model', model, '--ids', g.prompt_ids.join(','), '--tokens', String(g.new_ids.length), '--greedy');
      expect(r.code, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout);
      expect(out.ids).toEqual(g.new_ids);
      expect(typeof out.text).toBe('string');
      // sampling: the same seed gives the same ids, another seed (almost surely) others
      const a = JSON.parse(cli('generate', '--model', model, '--text', 'The quick', '--tokens', '12', '--seed', '7', '--temperature', '1.5').stdout);
      const b = JSON.parse(cli('generate', '--model', model, '--text', 'The quick', '--tokens', '12', '--seed', '7', '--temperature', '1.5').stdout);
      const c = JSON.parse(cli('generate', '--model', model, '--text', 'The quick', '--tokens', '12', '--seed', '8', '--temperature', '1.5').stdout);
      expect(a.ids).toEqual(b.ids);
      expect(a.ids).not.toEqual(c.ids);
    });
  }
});

describe('bad model folders are refused with the file and the problem, and nothing is written', () => {
  const refused = (model: string, ...fragments: string[]) => {
    const r = cli('forward', '--model', model, '--ids', '1,2,3', '--out', 'never');
    expectRefused(r, ...fragments);
    expect(existsSync(join(dir, 'never'))).toBe(false);
  };

  it('a missing file', () => {
    refused(variant(GPT2, 'no-config', (d) => rmSync(join(d, 'config.json'))), 'no-config/config.json', 'missing');
    refused(variant(GPT2, 'no-tokenizer', (d) => rmSync(join(d, 'tokenizer.json'))), 'no-tokenizer/tokenizer.json', 'missing');
    refused(variant(GPT2, 'no-weights', (d) => rmSync(join(d, 'model.safetensors'))), 'no-weights/model.safetensors', 'missing');
  });

  it('a malformed file', () => {
    refused(variant(GPT2, 'bad-config', (d) => writeFileSync(join(d, 'config.json'), '{"architectures": [')), 'bad-config/config.json', 'not valid JSON');
    refused(variant(GPT2, 'bad-tokenizer', (d) => writeFileSync(join(d, 'tokenizer.json'), '{"version": "1.0"}')), 'bad-tokenizer/tokenizer.json', "no 'model'");
    refused(variant(GPT2, 'bad-weights', (d) => writeFileSync(join(d, 'model.safetensors'), new Uint8Array(5))), 'bad-weights/model.safetensors', 'truncated');
    refused(variant(GPT2, 'bad-layers', (d) => editJson(join(d, 'config.json'), (j) => (j.n_layer = 'two'))), 'bad-layers/config.json', "'n_layer'");
  });

  it('an unsupported family or option', () => {
    refused(variant(GPT2, 'mistral', (d) => editJson(join(d, 'config.json'), (j) => (j.architectures = ['MistralForCausalLM']))), 'mistral/config.json', 'MistralForCausalLM is not supported');
    refused(variant(LLAMA, 'yarn', (d) => editJson(join(d, 'config.json'), (j) => (j.rope_scaling = { rope_type: 'yarn', factor: 4 }))), 'yarn/config.json', '"yarn"');
    refused(variant(GPT2, 'act', (d) => editJson(join(d, 'config.json'), (j) => (j.activation_function = 'quick_gelu'))), 'act/config.json', "'activation_function'", 'quick_gelu');
  });

  it('a missing or mis-shaped tensor', () => {
    const drop = (d: string) => {
      const t = readSafetensorsTensors(new Uint8Array(readFileSync(join(d, 'model.safetensors'))));
      t.delete('transformer.h.1.mlp.c_fc.weight');
      writeFileSync(join(d, 'model.safetensors'), encodeSafetensors(Object.fromEntries(t)));
    };
    refused(variant(GPT2, 'missing-tensor', drop), 'missing-tensor/model.safetensors', "'transformer.h.1.mlp.c_fc.weight' is missing");
    refused(variant(GPT2, 'wrong-shape', (d) => editJson(join(d, 'config.json'), (j) => (j.n_inner = 128))), 'wrong-shape/model.safetensors', 'transformer.h.0.mlp.c_fc.weight', '[64, 256]', '[64, 128]');
    refused(variant(LLAMA, 'missing-shard', (d) => {
      rmSync(join(d, 'model.safetensors'));
      writeFileSync(join(d, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { 'model.embed_tokens.weight': 'model-00001-of-00002.safetensors' } }));
    }), 'missing-shard/model-00001-of-00002.safetensors', 'missing');
  });

  it('a model too large for the device, before any weight is read', () => {
    // a 2 M × 1024 float32 embedding (8 GiB) in a sparse file: the header says so, no byte of it is read
    const big = variant(GPT2, 'too-large', (d) => {
      const vocab = 2_000_000;
      editJson(join(d, 'config.json'), (j) => Object.assign(j, { vocab_size: vocab, n_embd: 1024, n_head: 8, n_layer: 1 }));
      const shapes: Record<string, number[]> = {
        'transformer.wte.weight': [vocab, 1024], 'transformer.wpe.weight': [64, 1024],
        'transformer.h.0.ln_1.weight': [1024], 'transformer.h.0.ln_1.bias': [1024],
        'transformer.h.0.attn.c_attn.weight': [1024, 3072], 'transformer.h.0.attn.c_attn.bias': [3072],
        'transformer.h.0.attn.c_proj.weight': [1024, 1024], 'transformer.h.0.attn.c_proj.bias': [1024],
        'transformer.h.0.ln_2.weight': [1024], 'transformer.h.0.ln_2.bias': [1024],
        'transformer.h.0.mlp.c_fc.weight': [1024, 4096], 'transformer.h.0.mlp.c_fc.bias': [4096],
        'transformer.h.0.mlp.c_proj.weight': [4096, 1024], 'transformer.h.0.mlp.c_proj.bias': [1024],
        'transformer.ln_f.weight': [1024], 'transformer.ln_f.bias': [1024],
      };
      const header: Record<string, unknown> = {};
      let at = 0;
      for (const [name, shape] of Object.entries(shapes)) {
        const bytes = 4 * shape.reduce((a, b) => a * b, 1);
        header[name] = { dtype: 'F32', shape, data_offsets: [at, at + bytes] };
        at += bytes;
      }
      const json = Buffer.from(JSON.stringify(header).padEnd(Math.ceil(JSON.stringify(header).length / 8) * 8));
      const fd = openSync(join(d, 'model.safetensors'), 'w');
      const len = Buffer.alloc(8);
      len.writeUInt32LE(json.length, 0);
      writeSync(fd, len);
      writeSync(fd, json);
      writeSync(fd, Buffer.alloc(1), 0, 1, 8 + json.length + at - 1);
      closeSync(fd);
    });
    refused(big, 'too-large', 'weight wte takes 7812.5 MiB in one buffer', 'this device binds at most');
  });
});
