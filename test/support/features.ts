// A trainer's (B, F) buffers read whole: each feature shard's (B, F_s) columns put back in place.
import type { Trainer } from '../../src/engine/trainer.ts';

export async function readFeatures(t: Trainer, name: string): Promise<Float32Array> {
  const { features: F, batch: B } = t.config;
  const out = new Float32Array(B * F);
  for (const [s, sh] of t.shards.entries()) {
    const part = new Float32Array(await t.readInternal(s === 0 ? name : `${name}#${s}`));
    for (let b = 0; b < B; b++) out.set(part.subarray(b * sh.F, (b + 1) * sh.F), b * F + sh.f0);
  }
  return out;
}
