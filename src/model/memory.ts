// What a language model needs on the device, worked out from its config alone, so a model too large is
// refused before any weight is read or buffer allocated.
import { DoesNotFitError, BUDGET_BUFFERS } from '../engine/memory.ts';
import { canonicalShapes, qkvWidth, upWidth, type LmConfig } from './config.ts';

export interface LmMemory {
  weightBytes: number;
  /** activations and the key/value cache for `batch` sequences of `context` tokens */
  workBytes: number;
  /** the largest single buffer and what it is */
  largest: { bytes: number; what: string };
}

const MiB = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;

export function lmMemory(c: LmConfig, batch: number, context: number): LmMemory {
  let weightBytes = 0;
  let largest = { bytes: 0, what: '' };
  const see = (bytes: number, what: string) => {
    if (bytes > largest.bytes) largest = { bytes, what };
    return bytes;
  };
  for (const [key, shape] of canonicalShapes(c)) weightBytes += see(4 * shape.reduce((a, b) => a * b, 1), `weight ${key}`);
  const rows = batch * context;
  const work = [
    see(4 * rows * c.d, 'residual stream') * 3,
    see(4 * rows * qkvWidth(c), 'queries, keys and values'),
    see(4 * rows * c.nHeads * c.headDim, 'attention output'),
    see(4 * rows * upWidth(c), 'MLP up-projection'),
    see(4 * rows * c.dFf, 'MLP hidden'),
    see(4 * rows * c.vocab, 'logits'),
    2 * c.nLayers * see(4 * batch * c.nKvHeads * context * c.headDim, 'key/value cache of a layer'),
  ];
  return { weightBytes, workBytes: work.reduce((a, b) => a + b, 0), largest };
}

/** Refuses, with the sizes, a model (at `batch` × `context`) that no buffer or the device's budget holds. */
export function checkLmFits(c: LmConfig, batch: number, context: number, limits: GPUSupportedLimits, name: string): LmMemory {
  const m = lmMemory(c, batch, context);
  const cap = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  if (m.largest.bytes > cap) {
    throw new DoesNotFitError(`${name}: the ${m.largest.what} takes ${MiB(m.largest.bytes)} in one buffer; this device binds at most ${MiB(cap)} per buffer`);
  }
  const budget = BUDGET_BUFFERS * limits.maxBufferSize;
  const total = m.weightBytes + m.workBytes;
  if (total > budget) {
    throw new DoesNotFitError(
      `${name}: the model takes ${MiB(m.weightBytes)} of weights and ${MiB(m.workBytes)} of working memory for ${batch} × ${context} tokens (${MiB(total)}); this device is allowed ${MiB(budget)} (${BUDGET_BUFFERS} of its largest buffers)`,
    );
  }
  return m;
}
