// SAELens SAE folders: write SAELens 6's layout (sae_weights.safetensors, cfg.json, sparsity.safetensors)
// and read both SAELens 6's layout and the older flat layout into SaeWeights (raw activation units).
import type { SaeWeights } from '../../engine/sae.ts';
import type { Arch } from '../../engine/config.ts';
import { DataError } from '../errors.ts';
import { encodeSafetensors, readSafetensorsTensors, type DecodedTensor } from './safetensors.ts';

/** the SAELens version whose cfg.json layout we write */
export const SAELENS_VERSION = '6.18.0';

export const WEIGHTS_FILE = 'sae_weights.safetensors';
export const CFG_FILE = 'cfg.json';
export const SPARSITY_FILE = 'sparsity.safetensors';

/** metadata keys SAELens 6 writes, in its order, with the value used when provenance is unknown */
const METADATA_DEFAULTS: Record<string, unknown> = {
  sae_lens_version: SAELENS_VERSION,
  sae_lens_training_version: SAELENS_VERSION,
  model_name: null,
  hook_name: null,
  hook_head_index: null,
  prepend_bos: null,
  dataset_path: null,
  context_size: null,
};

/**
 * SaeWeights → the files of a SAELens 6 folder.
 * sparsityLog10: per-feature log10(density + 1e-10), length F (written as sparsity.safetensors when given).
 * extraMeta: merged over sae.metadata into cfg.json's metadata.
 */
export function encodeSaelens(
  sae: SaeWeights,
  sparsityLog10: Float32Array | undefined,
  extraMeta: Record<string, unknown> = {},
): Record<string, Uint8Array<ArrayBuffer>> {
  checkWeightSizes(sae, 'encodeSaelens');
  const files: Record<string, Uint8Array<ArrayBuffer>> = {
    [WEIGHTS_FILE]: encodeWeights(sae),
    [CFG_FILE]: new TextEncoder().encode(JSON.stringify(saelensConfig(sae, extraMeta), null, 2) + '\n'),
  };
  if (sparsityLog10) {
    if (sparsityLog10.length !== sae.features) {
      throw new Error(`encodeSaelens: sparsity has ${sparsityLog10.length} entries, the SAE has ${sae.features} features`);
    }
    files[SPARSITY_FILE] = encodeSafetensors({ sparsity: { shape: [sae.features], data: sparsityLog10 } });
  }
  return files;
}

/** W_enc [d, F], b_enc [F], W_dec [F, d], b_dec [d] as float32 safetensors */
function encodeWeights(sae: SaeWeights): Uint8Array<ArrayBuffer> {
  const { d, features: F } = sae;
  return encodeSafetensors({
    W_enc: { shape: [d, F], data: sae.W_enc },
    b_enc: { shape: [F], data: sae.b_enc },
    W_dec: { shape: [F, d], data: sae.W_dec },
    b_dec: { shape: [d], data: sae.b_dec },
  });
}

/** cfg.json's object, keys in SAELens 6's order */
export function saelensConfig(sae: SaeWeights, extraMeta: Record<string, unknown> = {}): Record<string, unknown> {
  const cfg: Record<string, unknown> = {
    d_in: sae.d,
    d_sae: sae.features,
    dtype: 'float32',
    device: 'cpu',
    apply_b_dec_to_input: sae.applyBDecToInput,
    normalize_activations: 'none',
    reshape_activations: 'none',
    metadata: { ...METADATA_DEFAULTS, ...sae.metadata, ...extraMeta },
  };
  if (sae.arch === 'topk') {
    if (!sae.k) throw new Error('encodeSaelens: a topk SAE needs k');
    cfg.k = sae.k;
    cfg.rescale_acts_by_decoder_norm = false;
  }
  cfg.architecture = sae.arch;
  return cfg;
}

function checkWeightSizes(sae: SaeWeights, where: string): void {
  const { d, features: F } = sae;
  const want: [string, Float32Array, number][] = [
    ['W_enc', sae.W_enc, d * F], ['b_enc', sae.b_enc, F], ['W_dec', sae.W_dec, F * d], ['b_dec', sae.b_dec, d],
  ];
  for (const [key, arr, n] of want) {
    if (arr.length !== n) throw new Error(`${where}: ${key} has ${arr.length} values, expected ${n} (d=${d}, F=${F})`);
  }
}

/** What an SAE's cfg.json says, in either layout. */
interface ParsedConfig {
  arch: Arch;
  d: number;
  features: number;
  k?: number;
  applyBDecToInput: boolean;
  /** TopK: the pre-activations are multiplied by ‖W_dec,i‖ before the selection, and divided back in the decoder */
  rescaleByDecoderNorm: boolean;
  metadata: Record<string, unknown>;
}

/**
 * A SAELens folder's cfg.json text + sae_weights.safetensors bytes → SaeWeights.
 * name: the folder (shown in errors). Accepts SAELens 6 and the older flat layout.
 */
export function decodeSaelens(cfgJson: string, weights: Uint8Array, name: string): SaeWeights {
  const cfg = parseSaelensConfig(cfgJson, `${name}/${CFG_FILE}`);
  const file = `${name}/${WEIGHTS_FILE}`;
  const tensors = readSafetensorsTensors(weights, file);
  const get = (key: string, shape: number[]) => tensorOfShape(tensors, key, shape, file);
  const sae: SaeWeights = {
    arch: cfg.arch,
    d: cfg.d,
    features: cfg.features,
    ...(cfg.k !== undefined ? { k: cfg.k } : {}),
    applyBDecToInput: cfg.applyBDecToInput,
    W_enc: get('W_enc', [cfg.d, cfg.features]),
    b_enc: get('b_enc', [cfg.features]),
    W_dec: get('W_dec', [cfg.features, cfg.d]),
    b_dec: get('b_dec', [cfg.d]),
    metadata: cfg.metadata,
  };
  if (cfg.rescaleByDecoderNorm) foldDecoderNorms(sae, file);
  return sae;
}

/**
 * SAELens's `rescale_acts_by_decoder_norm` folded into the weights, exactly: its TopK selects among
 * pre·‖W_dec,i‖ and decodes f / ‖W_dec,i‖ · W_dec,i, which is the plain TopK SAE with W_enc's column i and b_enc,i
 * multiplied by ‖W_dec,i‖ and W_dec's row i divided by it (the feature activations are the same numbers).
 */
function foldDecoderNorms(sae: SaeWeights, file: string): void {
  const { d, features: F } = sae;
  for (let i = 0; i < F; i++) {
    let sq = 0;
    for (let j = 0; j < d; j++) sq += sae.W_dec[i * d + j]! ** 2;
    const n = Math.sqrt(sq);
    if (!(n > 0)) throw new DataError(file, `W_dec row ${i} has norm 0, which rescale_acts_by_decoder_norm divides by`);
    for (let j = 0; j < d; j++) {
      sae.W_enc[j * F + i]! *= n;
      sae.W_dec[i * d + j]! /= n;
    }
    sae.b_enc[i]! *= n;
  }
}

/** the tensor `key`, which must exist with exactly `shape` */
function tensorOfShape(tensors: Map<string, DecodedTensor>, key: string, shape: number[], file: string): Float32Array {
  const t = tensors.get(key);
  if (!t) throw new DataError(file, `missing tensor '${key}'; the file has: ${[...tensors.keys()].join(', ') || 'nothing'}`);
  if (t.shape.length !== shape.length || t.shape.some((n, i) => n !== shape[i])) {
    throw new DataError(file, `tensor '${key}' has shape [${t.shape.join(', ')}] but cfg.json implies [${shape.join(', ')}]`);
  }
  const bad = t.data.findIndex((x) => !Number.isFinite(x));
  if (bad >= 0) {
    const at = shape.length === 2 ? `row ${Math.floor(bad / shape[1]!)}, column ${bad % shape[1]!}` : `index ${bad}`;
    throw new DataError(file, `tensor '${key}' holds ${t.data[bad]} at ${at}; every weight must be finite`);
  }
  return t.data;
}

/** cfg.json text → ParsedConfig; v6 when it has a metadata object, else the flat legacy layout */
export function parseSaelensConfig(text: string, file: string): ParsedConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new DataError(file, `not valid JSON (${(err as Error).message})`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new DataError(file, 'not a JSON object');
  const cfg = raw as Record<string, unknown>;
  const isV6 = typeof cfg.metadata === 'object' && cfg.metadata !== null;
  const arch = isV6 ? v6Arch(cfg, file) : legacyArch(cfg, file);
  checkNoExtraTransforms(cfg, file);
  const out: ParsedConfig = {
    arch,
    d: positiveInt(cfg, 'd_in', file),
    features: positiveInt(cfg, 'd_sae', file),
    applyBDecToInput: applyBDec(cfg, file),
    rescaleByDecoderNorm: cfg.rescale_acts_by_decoder_norm === true,
    metadata: isV6 ? { ...(cfg.metadata as Record<string, unknown>) } : legacyMetadata(cfg),
  };
  if (arch === 'topk') out.k = topkK(cfg, isV6, out.features, file);
  else if (out.rescaleByDecoderNorm) throw new DataError(file, `rescale_acts_by_decoder_norm true is a TopK setting; this SAE is ${arch}`);
  return out;
}

/** SAELens 6: the architecture key decides */
function v6Arch(cfg: Record<string, unknown>, file: string): Arch {
  const arch = cfg.architecture;
  if (arch === 'standard' || arch === 'topk') return arch;
  if (arch === undefined) throw new DataError(file, "no 'architecture' key");
  throw new DataError(file, `architecture ${JSON.stringify(arch)} is not supported yet (supported: "standard", "topk")`);
}

/** legacy: architecture "standard" (or absent) with activation_fn_str "relu" | "topk"; "topk" itself too */
function legacyArch(cfg: Record<string, unknown>, file: string): Arch {
  const arch = cfg.architecture ?? 'standard';
  if (arch === 'topk') return 'topk';
  if (arch !== 'standard') {
    throw new DataError(file, `architecture ${JSON.stringify(arch)} is not supported yet (supported: "standard", "topk")`);
  }
  const fn = cfg.activation_fn_str ?? cfg.activation_fn ?? 'relu';
  if (fn === 'relu') return 'standard';
  if (fn === 'topk') return 'topk';
  throw new DataError(file, `activation function ${JSON.stringify(fn)} is not supported yet (supported: "relu", "topk")`);
}

/** refuse settings that would change the forward pass beyond what SaeWeights represents */
function checkNoExtraTransforms(cfg: Record<string, unknown>, file: string): void {
  const norm = cfg.normalize_activations;
  if (norm !== undefined && norm !== null && norm !== 'none') {
    throw new DataError(file, `normalize_activations ${JSON.stringify(norm)} is not supported (only "none")`);
  }
  const reshape = cfg.reshape_activations;
  if (reshape !== undefined && reshape !== null && reshape !== 'none') {
    throw new DataError(file, `reshape_activations ${JSON.stringify(reshape)} is not supported (only "none")`);
  }
  if (cfg.finetuning_scaling_factor === true) {
    throw new DataError(file, 'finetuning_scaling_factor true is not supported');
  }
}

function positiveInt(cfg: Record<string, unknown>, key: string, file: string): number {
  const v = cfg[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) {
    throw new DataError(file, `'${key}' must be a positive integer, got ${JSON.stringify(v)}`);
  }
  return v;
}

function applyBDec(cfg: Record<string, unknown>, file: string): boolean {
  const v = cfg.apply_b_dec_to_input;
  if (v === undefined) return true; // SAELens's default
  if (typeof v !== 'boolean') throw new DataError(file, `'apply_b_dec_to_input' must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

/** k from the v6 key, or legacy activation_fn_kwargs.k */
function topkK(cfg: Record<string, unknown>, isV6: boolean, features: number, file: string): number {
  const kwargs = cfg.activation_fn_kwargs as Record<string, unknown> | undefined;
  const k = isV6 ? cfg.k : (cfg.k ?? kwargs?.k);
  if (typeof k !== 'number' || !Number.isSafeInteger(k) || k <= 0 || k > features) {
    throw new DataError(file, `a topk SAE needs an integer k in [1, d_sae=${features}], got ${JSON.stringify(k)}`);
  }
  return k;
}

/** the flat layout's provenance keys, gathered as SAELens 6 would put them in metadata */
function legacyMetadata(cfg: Record<string, unknown>): Record<string, unknown> {
  const keys = [
    'model_name', 'hook_name', 'hook_layer', 'hook_head_index', 'prepend_bos', 'dataset_path',
    'context_size', 'sae_lens_training_version', 'model_from_pretrained_kwargs', 'neuronpedia_id',
  ];
  const meta: Record<string, unknown> = {};
  for (const key of keys) if (key in cfg) meta[key] = cfg[key];
  return meta;
}
