// SAELens's inference architectures, one entry each (SAELens's own registry is the model): the tensors its
// sae_weights.safetensors holds, how they map onto SaeWeights, and the way back when saving. Adding a form
// SAELens saves is one entry here; what the engine then runs is decided by SaeWeights alone (engine/sae.ts).
import type { SaeArch, SaeWeights } from '../../engine/sae.ts';
import { DataError } from '../errors.ts';

/** what a loader entry reads: the folder's checked tensors and cfg.json's keys */
export interface LoadContext {
  d: number;
  features: number;
  dOut: number;
  cfg: Record<string, unknown>;
  cfgFile: string;
  /** the tensor `key` with exactly `shape`, finite; refused naming it otherwise */
  tensor(key: string, shape: number[], role?: string): Float32Array;
}

/** the architecture-specific part of SaeWeights */
type Parts = Pick<SaeWeights, 'arch' | 'W_enc' | 'b_enc' | 'W_dec' | 'b_dec'> & Partial<Pick<SaeWeights, 'k' | 'threshold' | 'W_skip'>> & {
  /** SAELens's TopK `rescale_acts_by_decoder_norm`, folded into the weights after loading */
  rescaleByDecoderNorm?: boolean;
};

interface Architecture {
  /** a transcoder: reads d_in, writes d_out (cfg.json's `d_out`), never subtracts b_dec from its input */
  transcoder: boolean;
  /** reads rescale_acts_by_decoder_norm (the TopK family); elsewhere a true one is refused */
  rescales?: boolean;
  load(c: LoadContext): Parts;
}

const base = (c: LoadContext, arch: SaeArch): Parts => ({
  arch,
  W_enc: c.tensor('W_enc', [c.d, c.features]),
  b_enc: c.tensor('b_enc', [c.features]),
  W_dec: c.tensor('W_dec', [c.features, c.dOut]),
  b_dec: c.tensor('b_dec', [c.dOut]),
});

const threshold = (c: LoadContext) => c.tensor('threshold', [c.features], 'the per-feature threshold of a JumpReLU SAE');

/**
 * A Gated SAE is exactly a JumpReLU SAE: f = 1[x·W_enc + b_gate > 0] · ReLU(x·(W_enc ∘ e^r_mag) + b_mag); with
 * W_enc' = W_enc ∘ e^r_mag and b_enc' = b_mag the gate reads pre' > b_mag − e^r_mag ∘ b_gate (e^r_mag > 0).
 */
function gatedAsJumpRelu(c: LoadContext): Parts {
  const F = c.features;
  const W = c.tensor('W_enc', [c.d, F]);
  const bGate = c.tensor('b_gate', [F], 'the gate bias of a Gated SAE');
  const rMag = c.tensor('r_mag', [F], 'the magnitude scale of a Gated SAE');
  const bMag = c.tensor('b_mag', [F], 'the magnitude bias of a Gated SAE');
  const scale = rMag.map(Math.exp);
  const W_enc = W.map((w, i) => w * scale[i % F]!);
  const theta = bMag.map((b, i) => b - scale[i]! * bGate[i]!);
  return { arch: 'jumprelu', W_enc, b_enc: bMag, threshold: theta, W_dec: c.tensor('W_dec', [F, c.dOut]), b_dec: c.tensor('b_dec', [c.dOut]) };
}

/** rescale_acts_by_decoder_norm: true or false (absent: false) */
function rescaleFlag(c: LoadContext): boolean {
  const rescale = c.cfg.rescale_acts_by_decoder_norm;
  if (rescale !== undefined && typeof rescale !== 'boolean') {
    throw new DataError(c.cfgFile, `'rescale_acts_by_decoder_norm' must be true or false, got ${JSON.stringify(rescale)}`);
  }
  return rescale === true;
}

function topkParts(c: LoadContext): Parts {
  const k = c.cfg.k;
  if (typeof k !== 'number' || !Number.isSafeInteger(k) || k <= 0 || k > c.features) {
    throw new DataError(c.cfgFile, `a topk SAE needs an integer k in [1, d_sae=${c.features}], got ${JSON.stringify(k)}`);
  }
  return { ...base(c, 'topk'), k, rescaleByDecoderNorm: rescaleFlag(c) };
}

/**
 * A BatchTopK or Matryoshka BatchTopK checkpoint saved mid-training (SAELens's training form: its batch
 * threshold a scalar `topk_threshold`, the pre-activations rescaled by ‖W_dec,i‖ by default) is the JumpReLU
 * SAE SAELens makes of it when training ends: the norms folded in (as TopK's), that threshold for every feature.
 * (Its k is the batch's average, which the JumpReLU form does not need.)
 */
function batchTopKAsJumpRelu(c: LoadContext): Parts {
  const t = c.tensor('topk_threshold', [], 'the batch threshold of a BatchTopK SAE in training');
  return { ...base(c, 'jumprelu'), threshold: new Float32Array(c.features).fill(t[0]!), rescaleByDecoderNorm: rescaleFlag(c) };
}

/** SAELens 6's `architecture` values this project loads */
export const ARCHITECTURES: Record<string, Architecture> = {
  standard: { transcoder: false, load: (c) => base(c, 'standard') },
  topk: { transcoder: false, rescales: true, load: topkParts },
  jumprelu: { transcoder: false, load: (c) => ({ ...base(c, 'jumprelu'), threshold: threshold(c) }) },
  gated: { transcoder: false, load: gatedAsJumpRelu },
  transcoder: { transcoder: true, load: (c) => base(c, 'standard') },
  skip_transcoder: { transcoder: true, load: (c) => ({ ...base(c, 'standard'), W_skip: c.tensor('W_skip', [c.dOut, c.d], 'the skip connection of a skip transcoder') }) },
  jumprelu_transcoder: { transcoder: true, load: (c) => ({ ...base(c, 'jumprelu'), threshold: threshold(c) }) },
  batchtopk: { transcoder: false, rescales: true, load: batchTopKAsJumpRelu },
  matryoshka_batchtopk: { transcoder: false, rescales: true, load: batchTopKAsJumpRelu },
};

/** How SaeWeights is saved: SAELens's architecture name, its extra tensors and cfg.json keys. */
export function savedForm(sae: SaeWeights): { architecture: string; tensors: Record<string, { shape: number[]; data: Float32Array }>; cfg: Record<string, unknown> } {
  const F = sae.features;
  const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
  const cfg: Record<string, unknown> = {};
  if (sae.arch === 'jumprelu') {
    if (!sae.threshold || sae.threshold.length !== F) throw new Error(`encodeSaelens: a jumprelu SAE needs a threshold of ${F} values`);
    tensors.threshold = { shape: [F], data: sae.threshold };
  }
  if (sae.arch === 'topk') {
    if (!sae.k) throw new Error('encodeSaelens: a topk SAE needs k');
    cfg.k = sae.k;
    cfg.rescale_acts_by_decoder_norm = false;
  }
  if (sae.dOut === undefined) return { architecture: sae.arch, tensors, cfg };
  cfg.d_out = sae.dOut;
  if (sae.W_skip) {
    if (sae.arch !== 'standard') throw new Error(`encodeSaelens: SAELens has no skip transcoder with ${sae.arch} activations`);
    tensors.W_skip = { shape: [sae.dOut, sae.d], data: sae.W_skip };
    return { architecture: 'skip_transcoder', tensors, cfg };
  }
  if (sae.arch === 'topk') throw new Error('encodeSaelens: SAELens has no topk transcoder');
  return { architecture: sae.arch === 'jumprelu' ? 'jumprelu_transcoder' : 'transcoder', tensors, cfg };
}
