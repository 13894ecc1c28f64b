// Bad model folders, one per kind of problem the loader must refuse, made from the shared fixtures: each
// with the fragments its one-line refusal must hold (the file and the problem). Used by the CLI's tests and
// the page's, so both refuse the same folders the same way.
import { closeSync, cpSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { encodeSafetensors, readSafetensorsTensors } from '../../src/data/formats/safetensors.ts';
import { SHARED_LM } from './lm-fixtures.ts';

export const GPT2 = join(SHARED_LM, 'gpt2-tiny');
export const LLAMA = join(SHARED_LM, 'llama-tiny');

export interface BadFolder {
  kind: 'missing file' | 'malformed file' | 'unsupported' | 'missing or mis-shaped tensor' | 'too large';
  dir: string;
  fragments: string[];
}

function editJson(path: string, change: (j: Record<string, unknown>) => void): void {
  const j = JSON.parse(readFileSync(path, 'utf8'));
  change(j);
  writeFileSync(path, JSON.stringify(j));
}

/** every bad folder, written under `root` */
export function badModelFolders(root: string): BadFolder[] {
  mkdirSync(root, { recursive: true });
  const out: BadFolder[] = [];
  const add = (kind: BadFolder['kind'], from: string, name: string, edit: (d: string) => void, ...fragments: string[]) => {
    const d = join(root, name);
    rmSync(d, { recursive: true, force: true });
    cpSync(from, d, { recursive: true, filter: (s) => !s.includes('expected') });
    edit(d);
    out.push({ kind, dir: d, fragments: fragments.map((f) => f.replace('%', name)) });
  };
  add('missing file', GPT2, 'no-config', (d) => rmSync(join(d, 'config.json')), '%/config.json', 'missing');
  add('missing file', GPT2, 'no-tokenizer', (d) => rmSync(join(d, 'tokenizer.json')), '%/tokenizer.json', 'missing');
  add('missing file', GPT2, 'no-weights', (d) => rmSync(join(d, 'model.safetensors')), '%/model.safetensors', 'missing');
  add('malformed file', GPT2, 'bad-config', (d) => writeFileSync(join(d, 'config.json'), '{"architectures": ['), '%/config.json', 'not valid JSON');
  add('malformed file', GPT2, 'bad-tokenizer', (d) => writeFileSync(join(d, 'tokenizer.json'), '{"version": "1.0"}'), '%/tokenizer.json', "no 'model'");
  add('malformed file', GPT2, 'bad-weights', (d) => writeFileSync(join(d, 'model.safetensors'), new Uint8Array(5)), '%/model.safetensors', 'truncated');
  add('malformed file', GPT2, 'bad-layers', (d) => editJson(join(d, 'config.json'), (j) => (j.n_layer = 'two')), '%/config.json', "'n_layer'");
  add('unsupported', GPT2, 'mistral', (d) => editJson(join(d, 'config.json'), (j) => (j.architectures = ['MistralForCausalLM'])), '%/config.json', 'MistralForCausalLM is not supported');
  add('unsupported', LLAMA, 'yarn', (d) => editJson(join(d, 'config.json'), (j) => (j.rope_scaling = { rope_type: 'yarn', factor: 4 })), '%/config.json', '"yarn"');
  add('unsupported', GPT2, 'act', (d) => editJson(join(d, 'config.json'), (j) => (j.activation_function = 'quick_gelu')), '%/config.json', "'activation_function'", 'quick_gelu');
  add('missing or mis-shaped tensor', GPT2, 'missing-tensor', (d) => {
    const t = readSafetensorsTensors(new Uint8Array(readFileSync(join(d, 'model.safetensors'))));
    t.delete('transformer.h.1.mlp.c_fc.weight');
    writeFileSync(join(d, 'model.safetensors'), encodeSafetensors(Object.fromEntries(t)));
  }, '%/model.safetensors', "'transformer.h.1.mlp.c_fc.weight' is missing");
  add('missing or mis-shaped tensor', GPT2, 'wrong-shape', (d) => editJson(join(d, 'config.json'), (j) => (j.n_inner = 128)), '%/model.safetensors', 'transformer.h.0.mlp.c_fc.weight', '[64, 256]', '[64, 128]');
  add('missing or mis-shaped tensor', LLAMA, 'missing-shard', (d) => {
    rmSync(join(d, 'model.safetensors'));
    writeFileSync(join(d, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { 'model.embed_tokens.weight': 'model-00001-of-00002.safetensors' } }));
  }, '%/model-00001-of-00002.safetensors', 'missing');
  // a 2 M × 1024 float32 embedding (8 GiB) in a sparse file: the header says so, no byte of it is read
  add('too large', GPT2, 'too-large', (d) => {
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
  }, 'too-large', 'weight wte takes 7812.5 MiB in one buffer', 'this device binds at most');
  return out;
}
