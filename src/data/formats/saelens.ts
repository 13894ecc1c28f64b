// SAELens SAE folders: write SAELens 6's layout (sae_weights.safetensors, cfg.json, sparsity.safetensors)
// and read both SAELens 6's layout and the older flat layout into SaeWeights (raw activation units).
import { outWidth, type RowNorm, type SaeWeights } from '../../engine/sae.ts';
import { DataError } from '../errors.ts';
import { ARCHITECTURES, savedForm } from './saelens-archs.ts';
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

/** W_enc [d, F], b_enc [F], W_dec [F, d_out], b_dec [d_out] and the architecture's own tensors, float32 */
function encodeWeights(sae: SaeWeights): Uint8Array<ArrayBuffer> {
  const { d, features: F } = sae;
  const dOut = outWidth(sae);
  return encodeSafetensors({
    W_enc: { shape: [d, F], data: sae.W_enc },
    b_enc: { shape: [F], data: sae.b_enc },
    W_dec: { shape: [F, dOut], data: sae.W_dec },
    b_dec: { shape: [dOut], data: sae.b_dec },
    ...savedForm(sae).tensors,
  });
}

/** cfg.json's object, keys in SAELens 6's order */
export function saelensConfig(sae: SaeWeights, extraMeta: Record<string, unknown> = {}): Record<string, unknown> {
  const form = savedForm(sae);
  return {
    d_in: sae.d,
    d_sae: sae.features,
    dtype: 'float32',
    device: 'cpu',
    apply_b_dec_to_input: sae.applyBDecToInput,
    normalize_activations: sae.normalize ?? 'none',
    reshape_activations: sae.hookZ ? 'hook_z' : 'none',
    metadata: { ...METADATA_DEFAULTS, ...sae.metadata, ...extraMeta },
    ...form.cfg,
    architecture: form.architecture,
  };
}

function checkWeightSizes(sae: SaeWeights, where: string): void {
  const { d, features: F } = sae;
  const dOut = outWidth(sae);
  const want: [string, Float32Array, number][] = [
    ['W_enc', sae.W_enc, d * F], ['b_enc', sae.b_enc, F], ['W_dec', sae.W_dec, F * dOut], ['b_dec', sae.b_dec, dOut],
  ];
  for (const [key, arr, n] of want) {
    if (arr.length !== n) throw new Error(`${where}: ${key} has ${arr.length} values, expected ${n} (d=${d}, F=${F})`);
  }
}

/** What an SAE's cfg.json says, in either layout. */
interface ParsedConfig {
  /** a key of ARCHITECTURES */
  architecture: string;
  d: number;
  features: number;
  /** a transcoder's d_out, else d */
  dOut: number;
  applyBDecToInput: boolean;
  normalize: RowNorm | 'expected_average_only_in' | undefined;
  /** reshape_activations "hook_z" */
  hookZ: boolean;
  /** the keys the architecture reads (v6: cfg.json itself; legacy: k moved up from activation_fn_kwargs) */
  raw: Record<string, unknown>;
  metadata: Record<string, unknown>;
}

/** the optional files of a SAELens folder that change how its weights are read */
export interface SaelensExtras {
  /** activation_scaler.json's text: the scaling factor of an `expected_average_only_in` SAE saved mid-training */
  activationScaler?: string;
}

export const ACTIVATION_SCALER_FILE = 'activation_scaler.json';

/**
 * A SAELens folder's cfg.json text + sae_weights.safetensors bytes → SaeWeights.
 * name: the folder (shown in errors). Accepts SAELens 6 and the older flat layout, every architecture of
 * saelens-archs.ts, F32/F16/BF16/F64 tensors.
 */
export function decodeSaelens(cfgJson: string, weights: Uint8Array, name: string, extras: SaelensExtras = {}): SaeWeights {
  const cfgFile = `${name}/${CFG_FILE}`;
  const cfg = parseSaelensConfig(cfgJson, cfgFile);
  const file = `${name}/${WEIGHTS_FILE}`;
  const tensors = readSafetensorsTensors(weights, file);
  const arch = ARCHITECTURES[cfg.architecture]!;
  const parts = arch.load({
    d: cfg.d,
    features: cfg.features,
    dOut: cfg.dOut,
    cfg: cfg.raw,
    cfgFile,
    tensor: (key, shape, role) => tensorOfShape(tensors, key, shape, file, role),
  });
  const { rescaleByDecoderNorm, ...weightsParts } = parts;
  const sae: SaeWeights = {
    ...weightsParts,
    d: cfg.d,
    features: cfg.features,
    applyBDecToInput: cfg.applyBDecToInput,
    metadata: cfg.metadata,
  };
  if (arch.transcoder) sae.dOut = cfg.dOut;
  if (cfg.hookZ) sae.hookZ = true;
  if (rescaleByDecoderNorm) foldDecoderNorms(sae, file);
  if (cfg.normalize === 'expected_average_only_in') foldScalingFactor(sae, name, extras.activationScaler);
  else if (cfg.normalize) sae.normalize = cfg.normalize;
  return sae;
}

/**
 * SAELens's `rescale_acts_by_decoder_norm` folded into the weights, exactly: its TopK selects among
 * pre·‖W_dec,i‖ and decodes f / ‖W_dec,i‖ · W_dec,i, which is the plain TopK SAE with W_enc's column i and b_enc,i
 * multiplied by ‖W_dec,i‖ and W_dec's row i divided by it (the feature activations are the same numbers).
 */
function foldDecoderNorms(sae: SaeWeights, file: string): void {
  const { d, features: F } = sae;
  const dOut = outWidth(sae);
  for (let i = 0; i < F; i++) {
    let sq = 0;
    for (let j = 0; j < dOut; j++) sq += sae.W_dec[i * dOut + j]! ** 2;
    const n = Math.sqrt(sq);
    if (!(n > 0)) throw new DataError(file, `W_dec row ${i} has norm 0, which rescale_acts_by_decoder_norm divides by`);
    for (let j = 0; j < d; j++) sae.W_enc[j * F + i]! *= n;
    for (let j = 0; j < dOut; j++) sae.W_dec[i * dOut + j]! /= n;
    sae.b_enc[i]! *= n;
  }
}

/**
 * `expected_average_only_in`: the SAE was trained on s·x with s = √d / E‖x‖. SAELens folds s into the weights
 * when training ends (W_enc·s, W_dec/s, b_dec/s, then saves "none"); a checkpoint saved before that keeps s
 * in activation_scaler.json beside it, and is folded here the same way. Without s the SAE cannot be run.
 */
function foldScalingFactor(sae: SaeWeights, name: string, scalerJson: string | undefined): void {
  const file = `${name}/${ACTIVATION_SCALER_FILE}`;
  if (scalerJson === undefined) {
    throw new DataError(
      `${name}/${CFG_FILE}`,
      `normalize_activations "expected_average_only_in" needs the scaling factor SAELens estimated in training, and ` +
        `the folder has no ${ACTIVATION_SCALER_FILE} (SAELens folds the factor into the weights at the end of training and then writes "none")`,
    );
  }
  let s: unknown;
  try {
    s = (JSON.parse(scalerJson) as Record<string, unknown>).scaling_factor;
  } catch (err) {
    throw new DataError(file, `not valid JSON (${(err as Error).message})`);
  }
  if (typeof s !== 'number' || !(s > 0) || !Number.isFinite(s)) {
    throw new DataError(file, `'scaling_factor' must be a positive number, got ${JSON.stringify(s)}`);
  }
  for (let i = 0; i < sae.W_enc.length; i++) sae.W_enc[i]! *= s;
  for (let i = 0; i < sae.W_dec.length; i++) sae.W_dec[i]! /= s;
  for (let i = 0; i < sae.b_dec.length; i++) sae.b_dec[i]! /= s;
}

/** the tensor `key`, which must exist with exactly `shape` */
function tensorOfShape(tensors: Map<string, DecodedTensor>, key: string, shape: number[], file: string, role?: string): Float32Array {
  const t = tensors.get(key);
  if (!t) {
    const what = role ? ` (${role})` : '';
    throw new DataError(file, `missing tensor '${key}'${what}; the file has: ${[...tensors.keys()].join(', ') || 'nothing'}`);
  }
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
function parseSaelensConfig(text: string, file: string): ParsedConfig {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new DataError(file, `not valid JSON (${(err as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new DataError(file, 'not a JSON object');
  const cfg = parsed as Record<string, unknown>;
  const isV6 = typeof cfg.metadata === 'object' && cfg.metadata !== null;
  const architecture = isV6 ? v6Arch(cfg, file) : legacyArch(cfg, file);
  const transcoder = ARCHITECTURES[architecture]!.transcoder;
  const d = positiveInt(cfg, 'd_in', file);
  const raw = isV6 ? cfg : { ...cfg, k: cfg.k ?? (cfg.activation_fn_kwargs as Record<string, unknown> | undefined)?.k };
  const out: ParsedConfig = {
    architecture,
    d,
    features: positiveInt(cfg, 'd_sae', file),
    dOut: transcoder ? positiveInt(cfg, 'd_out', file) : d,
    applyBDecToInput: applyBDec(cfg, transcoder, file),
    normalize: normalizeMode(cfg, file),
    hookZ: reshapeHookZ(cfg, file),
    raw,
    metadata: isV6 ? { ...(cfg.metadata as Record<string, unknown>) } : legacyMetadata(cfg),
  };
  checkNoExtraTransforms(cfg, file);
  if (!ARCHITECTURES[architecture]!.rescales && cfg.rescale_acts_by_decoder_norm === true) {
    throw new DataError(file, `rescale_acts_by_decoder_norm true is a TopK setting; this SAE is ${architecture}`);
  }
  return out;
}

const SUPPORTED = Object.keys(ARCHITECTURES).map((a) => JSON.stringify(a)).join(', ');

/** SAELens 6: the architecture key decides */
function v6Arch(cfg: Record<string, unknown>, file: string): string {
  const arch = cfg.architecture;
  if (arch === undefined) throw new DataError(file, "no 'architecture' key");
  if (typeof arch === 'string' && Object.hasOwn(ARCHITECTURES, arch)) return arch;
  throw new DataError(file, `architecture ${JSON.stringify(arch)} is not one SAELens saves (supported: ${SUPPORTED})`);
}

/** legacy: architecture "standard" (or absent) with activation_fn_str "relu" | "topk"; the other names as in v6 */
function legacyArch(cfg: Record<string, unknown>, file: string): string {
  const arch = cfg.architecture ?? 'standard';
  if (arch !== 'standard') return v6Arch({ architecture: arch }, file);
  const fn = cfg.activation_fn_str ?? cfg.activation_fn ?? 'relu';
  if (fn === 'relu') return 'standard';
  if (fn === 'topk') return 'topk';
  throw new DataError(file, `activation function ${JSON.stringify(fn)} is not supported (supported: "relu", "topk")`);
}

function normalizeMode(cfg: Record<string, unknown>, file: string): ParsedConfig['normalize'] {
  const norm = cfg.normalize_activations;
  if (norm === undefined || norm === null || norm === 'none') return undefined;
  if (norm === 'constant_norm_rescale' || norm === 'layer_norm' || norm === 'expected_average_only_in') return norm;
  throw new DataError(
    file,
    `normalize_activations ${JSON.stringify(norm)} is not one SAELens defines ("none", "expected_average_only_in", "constant_norm_rescale", "layer_norm")`,
  );
}

/** reshape_activations: "none", or "hook_z" (heads flattened, as rows here always are) */
function reshapeHookZ(cfg: Record<string, unknown>, file: string): boolean {
  const reshape = cfg.reshape_activations;
  if (reshape === undefined || reshape === null || reshape === 'none') return false;
  if (reshape === 'hook_z') return true;
  throw new DataError(file, `reshape_activations ${JSON.stringify(reshape)} is not one SAELens defines ("none", "hook_z")`);
}

/** refuse settings that would change the forward pass beyond what SaeWeights represents */
function checkNoExtraTransforms(cfg: Record<string, unknown>, file: string): void {
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

function applyBDec(cfg: Record<string, unknown>, transcoder: boolean, file: string): boolean {
  const v = cfg.apply_b_dec_to_input;
  if (v === undefined) return !transcoder; // SAELens's default; a transcoder's b_dec lives in its output space
  if (typeof v !== 'boolean') throw new DataError(file, `'apply_b_dec_to_input' must be true or false, got ${JSON.stringify(v)}`);
  if (v && transcoder) throw new DataError(file, "apply_b_dec_to_input true cannot be: a transcoder's b_dec has d_out values, not d_in");
  return v;
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
