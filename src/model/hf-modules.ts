// Where a hook's activation is in a Hugging Face model, for tools that hook PyTorch modules rather than
// TransformerLens hook points: SAELens's AutoModelForCausalLM wrapper (HookedProxyLM) hooks a module of the
// whole model by its named_modules() name, EleutherAI's sparsify a module of its base model. Both take the
// module's output (the first element of a tuple).
import type { Family } from './families/registry.ts';
import type { HookPoint } from './hooks.ts';

export interface HookModule {
  /** the name in the *ForCausalLM model, as SAELens's HookedProxyLM takes it */
  full: string;
  /** the name in the base model, as sparsify's --hookpoints takes it */
  base: string;
}

/** the module whose output is the hook's activation; null for resid_mid, which no module outputs */
export function hookModule(family: Family, hook: HookPoint): HookModule | null {
  const m = family.modules;
  const block = (l: number) => `${m.blocks}.${l}`;
  const rel = {
    hook_resid_pre: hook.layer === 0 ? m.embedOut : block(hook.layer - 1),
    hook_attn_out: `${block(hook.layer)}.${m.attn}`,
    hook_mlp_out: `${block(hook.layer)}.${m.mlp}`,
    hook_resid_post: block(hook.layer),
    hook_resid_mid: null,
  }[hook.kind];
  return rel === null ? null : { full: `${m.base}.${rel}`, base: rel };
}
