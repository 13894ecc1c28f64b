// From the trainer's parameters (scaled inputs x' = s·x) to the SAE as saved and used (RECIPE §1):
// W_enc ← s·W_enc, W_dec ← W_dec / s, b_dec ← b_dec / s, b_enc unchanged — f(x) is unchanged and x̂ is in
// raw units. Works from a live trainer or from a stored snapshot alone, without a GPU. JumpReLU's threshold
// compares pre, which the fold leaves unchanged: it is saved as it was learned.
import { batchK, type TrainConfig } from './config.ts';
import { ARCH_STEPS } from './steps/index.ts';
import { shardsOfSnapshot, splitFlats, unpackShards } from './shards.ts';
import type { SaeArch, SaeWeights } from './sae.ts';
import type { Params32, TrainerSnapshot } from './run-state.ts';

export function foldSae(p: Params32, cfg: TrainConfig, scale: number, metadata: Record<string, unknown> = {}, state: Record<string, Float32Array> = {}): SaeWeights {
  const { arch, d, features, k } = cfg;
  return {
    // a trained BatchTopK (or Matryoshka) SAE is the JumpReLU SAE with its batch threshold for every feature,
    // as SAELens saves it
    arch: batchK(arch) ? 'jumprelu' : (arch as SaeArch),
    d,
    features,
    ...(arch === 'topk' ? { k } : {}),
    // JumpReLU: pre is the same number before and after the fold, so the threshold carries over as exp(log θ)
    ...(arch === 'jumprelu' ? { threshold: jumpThreshold(state, features) } : {}),
    ...(batchK(arch) ? { threshold: batchThreshold(state, features) } : {}),
    applyBDecToInput: ARCH_STEPS[arch].center,
    W_enc: p.W_enc.map((w) => w * scale),
    b_enc: p.b_enc.slice(),
    W_dec: p.W_dec.map((w) => w / scale),
    b_dec: p.b_dec.map((w) => w / scale),
    metadata,
  };
}

function jumpThreshold(state: Record<string, Float32Array>, F: number): Float32Array {
  const theta = state.theta;
  if (!theta) throw new Error('a jumprelu SAE is folded with its log thresholds (state.theta)');
  return Float32Array.from(theta.subarray(0, F), Math.exp);
}

function batchThreshold(state: Record<string, Float32Array>, F: number): Float32Array {
  const bstate = state.bstate;
  if (!bstate) throw new Error('a BatchTopK or Matryoshka SAE is folded with its batch threshold (state.bstate)');
  return new Float32Array(F).fill(bstate[0]!);
}

/** The parameters a snapshot holds, unpacked from its flat buffers. */
export function snapshotParams(snap: TrainerSnapshot): Params32 {
  const { d, features } = snap.config;
  const shards = shardsOfSnapshot(features, snap.shards);
  return unpackShards(splitFlats(snap.params, d, shards), d, shards);
}
