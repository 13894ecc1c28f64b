// Hook points named as TransformerLens and SAELens name them. In block L:
//   resid_pre  the block's input          attn_out  the attention's output (after its projection)
//   resid_mid  resid_pre + attn_out       mlp_out   the MLP's output
//   resid_post resid_mid + mlp_out (the block's output, before the final norm for the last block)
import type { LmConfig } from './config.ts';

export const HOOK_KINDS = ['hook_resid_pre', 'hook_attn_out', 'hook_resid_mid', 'hook_mlp_out', 'hook_resid_post'] as const;
export type HookKind = (typeof HOOK_KINDS)[number];

export interface HookPoint {
  layer: number;
  kind: HookKind;
}

export function hookName(h: HookPoint): string {
  return `blocks.${h.layer}.${h.kind}`;
}

/** every hook of the model, block by block in the order a forward pass reaches them */
export function hookNames(c: LmConfig): string[] {
  const out: string[] = [];
  for (let layer = 0; layer < c.nLayers; layer++) for (const kind of HOOK_KINDS) out.push(hookName({ layer, kind }));
  return out;
}

export class HookError extends Error {}

export function parseHook(name: string, c: LmConfig): HookPoint {
  const m = /^blocks\.(\d+)\.(hook_\w+)$/.exec(name);
  const kind = m?.[2] as HookKind | undefined;
  if (!m || !kind || !HOOK_KINDS.includes(kind)) {
    throw new HookError(`unknown hook '${name}'; hooks are blocks.L.${HOOK_KINDS.join(' | ')}`);
  }
  const layer = Number(m[1]);
  if (layer >= c.nLayers) throw new HookError(`hook '${name}': the model has ${c.nLayers} blocks (0 … ${c.nLayers - 1})`);
  return { layer, kind };
}
