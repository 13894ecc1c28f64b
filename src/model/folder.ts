// A Hugging Face model folder (config.json, the weights as model.safetensors or a sharded index,
// tokenizer.json + tokenizer_config.json), checked whole before any weight is read or any GPU memory
// allocated: every refusal names the file and what is wrong with it.
import type { ByteSource } from '../data/sources.ts';
import { DataError } from '../data/errors.ts';
import { toFloat32, type FloatKind } from '../data/convert.ts';
import { readSafetensorsHeader, type TensorInfo } from '../data/formats/safetensors.ts';
import type { LmConfig, LmWeights, WeightSpec } from './config.ts';
import { parseModelConfig, type Family } from './families/registry.ts';
import { LmTokenizer } from './tokenizer.ts';

/** The files of one model folder, wherever they are (a folder on disk, files picked in the page, IndexedDB). */
export interface ModelFiles {
  /** the folder's path or name, shown in messages */
  readonly name: string;
  /** the named file, or undefined where the folder has none */
  open(file: string): Promise<ByteSource | undefined>;
}

const KINDS: Record<string, FloatKind> = { F32: 'f32', F16: 'f16', BF16: 'bf16' };

interface Located {
  src: ByteSource;
  info: TensorInfo;
  dataStart: number;
}

/** A model whose every file and tensor was checked; its weights are read by readWeights. */
export interface ModelPlan {
  name: string;
  family: Family;
  config: LmConfig;
  tokenizer: LmTokenizer;
  /** the stored dtypes of the weights (e.g. ['F32'] or ['BF16']) */
  dtypes: string[];
  /** bytes of the stored weights the model reads */
  storedBytes: number;
  specs: WeightSpec[];
  /** the prefix the stored names carry */
  prefix: string;
  /** every needed tensor by its stored name */
  tensors: Map<string, Located>;
}

async function text(files: ModelFiles, file: string, required: boolean): Promise<string | undefined> {
  const src = await files.open(file);
  if (!src) {
    if (required) throw new DataError(`${files.name}/${file}`, 'missing: a Hugging Face model folder needs config.json, the weights (model.safetensors or model.safetensors.index.json) and tokenizer.json');
    return undefined;
  }
  const bytes = await src.read(0, src.size);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new DataError(src.name, 'not UTF-8 text');
  }
}

/** Checks the folder (config, tokenizer, every tensor's presence, dtype and shape) without reading weights. */
export async function openModel(files: ModelFiles): Promise<ModelPlan> {
  const configFile = `${files.name}/config.json`;
  const { family, config } = parseModelConfig((await text(files, 'config.json', true))!, configFile);
  const tokJson = (await text(files, 'tokenizer.json', true))!;
  const tokenizer = LmTokenizer.fromJson(tokJson, await text(files, 'tokenizer_config.json', false), `${files.name}/tokenizer.json`);
  const stored = await storedTensors(files);
  const specs = family.weights(config);
  const prefix = family.prefixes.find((p) => stored.has(`${p}${specs[0].parts[0].name}`)) ?? family.prefixes[0];
  if (!config.tied) specs.push({ key: 'unembed', layout: 'table', parts: [{ name: family.unembedding, shape: [config.vocab, config.d], absolute: true }] });
  const tensors = new Map<string, Located>();
  const dtypes = new Set<string>();
  let storedBytes = 0;
  const where = stored.size === 1 ? [...stored.values()][0].src.name : `${files.name}/model.safetensors.index.json`;
  for (const spec of specs) {
    for (const part of spec.parts) {
      const name = part.absolute ? part.name : `${prefix}${part.name}`;
      const t = stored.get(name);
      if (!t) throw new DataError(where, `tensor '${name}' is missing (a ${config.architecture} with ${config.nLayers} layers needs it)`);
      if (t.info.shape.join() !== part.shape.join()) {
        throw new DataError(t.src.name, `tensor '${name}' has shape [${t.info.shape.join(', ')}]; config.json implies [${part.shape.join(', ')}]`);
      }
      if (!KINDS[t.info.dtype]) throw new DataError(t.src.name, `tensor '${name}' has dtype ${t.info.dtype}; supported: F32, F16, BF16`);
      dtypes.add(t.info.dtype);
      storedBytes += t.info.end - t.info.begin;
      tensors.set(name, t);
    }
  }
  return { name: files.name, family, config, tokenizer, dtypes: [...dtypes], storedBytes, specs, prefix, tensors };
}

/** every tensor of model.safetensors, or of the shards a model.safetensors.index.json maps */
async function storedTensors(files: ModelFiles): Promise<Map<string, Located>> {
  const out = new Map<string, Located>();
  const add = async (src: ByteSource, only?: Set<string>) => {
    const header = await readSafetensorsHeader(src);
    for (const info of header.tensors) if (!only || only.has(info.name)) out.set(info.name, { src, info, dataStart: header.dataStart });
  };
  const single = await files.open('model.safetensors');
  if (single) {
    await add(single);
    return out;
  }
  const indexText = await text(files, 'model.safetensors.index.json', false);
  if (indexText === undefined) {
    throw new DataError(`${files.name}/model.safetensors`, 'missing, and no model.safetensors.index.json either (weights are read from safetensors files only)');
  }
  const indexFile = `${files.name}/model.safetensors.index.json`;
  let map: unknown;
  try {
    map = (JSON.parse(indexText) as { weight_map?: unknown }).weight_map;
  } catch (e) {
    throw new DataError(indexFile, `not valid JSON (${(e as Error).message})`);
  }
  if (typeof map !== 'object' || map === null || Array.isArray(map)) throw new DataError(indexFile, "has no 'weight_map' object");
  const byShard = new Map<string, Set<string>>();
  for (const [tensor, shard] of Object.entries(map)) {
    if (typeof shard !== 'string' || shard.includes('/') || shard.includes('..')) throw new DataError(indexFile, `weight_map entry '${tensor}' names ${JSON.stringify(shard)}, not a file of the folder`);
    if (!byShard.has(shard)) byShard.set(shard, new Set());
    byShard.get(shard)!.add(tensor);
  }
  for (const [shard, names] of byShard) {
    const src = await files.open(shard);
    if (!src) throw new DataError(`${files.name}/${shard}`, 'missing: model.safetensors.index.json maps tensors to it');
    await add(src, names);
    for (const n of names) if (!out.has(n)) throw new DataError(src.name, `tensor '${n}' is missing (model.safetensors.index.json maps it to this shard)`);
  }
  return out;
}

/** Reads and converts the checked weights into the engine's layout (float32, linear weights as (in, out)). */
export async function readWeights(plan: ModelPlan, onProgress?: (done: number, total: number) => void): Promise<LmWeights> {
  const out: LmWeights = new Map();
  let done = 0;
  for (const spec of plan.specs) {
    const parts: Float32Array[] = [];
    for (const part of spec.parts) {
      const t = plan.tensors.get(part.absolute ? part.name : `${plan.prefix}${part.name}`)!;
      const bytes = await t.src.read(t.dataStart + t.info.begin, t.info.end - t.info.begin);
      parts.push(toFloat32(bytes, KINDS[t.info.dtype]));
      done += t.info.end - t.info.begin;
      onProgress?.(done, plan.storedBytes);
    }
    out.set(spec.key, spec.layout === 'out_in' ? transposeConcat(parts, spec.parts.map((p) => p.shape)) : concat(parts));
  }
  return out;
}

function concat(parts: Float32Array[]): Float32Array {
  if (parts.length === 1) return parts[0];
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** torch Linear weights (out_i, in), stacked along out, → one (in, Σ out_i) matrix */
function transposeConcat(parts: Float32Array[], shapes: number[][]): Float32Array {
  const inDim = shapes[0][1];
  const width = shapes.reduce((n, s) => n + s[0], 0);
  const out = new Float32Array(inDim * width);
  let col0 = 0;
  parts.forEach((p, i) => {
    const rows = shapes[i][0];
    for (let o = 0; o < rows; o++) for (let k = 0; k < inDim; k++) out[k * width + col0 + o] = p[o * inDim + k];
    col0 += rows;
  });
  return out;
}
