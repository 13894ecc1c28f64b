// sae-lab forward: one forward pass of a model → ids.json, logits.npy (T × vocab) and one <hook>.npy (T × d)
// per hook read, all float32; --add puts a vector into a hook at every position first, --sae splices an SAE
// in at its hook (with --steer/--clamp edits), --ablate zeroes a hook. Other tools check the model, and
// the spliced model, through these files.
import { existsSync, readFileSync } from 'node:fs';
import { encodeNpy, readNpyVector } from '../data/formats/npy.ts';
import { memorySource } from '../data/memory-source.ts';
import { hookNames, parseHook, HookError } from '../model/hooks.ts';
import type { HookEdit } from '../model/lm.ts';
import { CliError, required, type Command } from './args.ts';
import { loadCliModel, promptIds } from './model.ts';
import { checkOutDir, writeFolder } from './output.ts';
import { SAE_OPTIONS, cliSae, spliceEdit } from './sae-edits.ts';
import { fillEdit } from '../model/sae-splice.ts';
import type { LmConfig } from '../model/config.ts';

function hookList(arg: unknown, c: LmConfig): string[] {
  if (arg === undefined) return [];
  const hooks = arg === 'all' ? hookNames(c) : String(arg).split(',').map((s) => s.trim());
  for (const h of hooks) hookOption(h, c);
  return hooks;
}

function hookOption(name: string, c: LmConfig): void {
  try {
    parseHook(name, c);
  } catch (e) {
    if (e instanceof HookError) throw new CliError(`sae-lab forward: ${e.message}`, 2);
    throw e;
  }
}

/** --add HOOK=VEC.npy → the edit, the vector's length checked against the model */
async function addEdits(arg: unknown, c: LmConfig): Promise<Map<string, HookEdit>> {
  const edits = new Map<string, HookEdit>();
  if (arg === undefined) return edits;
  const m = /^([^=]+)=(.+)$/.exec(String(arg));
  if (!m) throw new CliError(`--add must be HOOK=VEC.npy, got '${arg}'`, 2);
  hookOption(m[1], c);
  if (!existsSync(m[2])) throw new CliError(`${m[2]}: not found (--add)`);
  const vector = await readNpyVector(memorySource(new Uint8Array(readFileSync(m[2])), m[2]));
  if (vector.length !== c.d) throw new CliError(`${m[2]}: the vector has ${vector.length} values; the model's d is ${c.d}`);
  edits.set(m[1], { kind: 'add', vector });
  return edits;
}

export const forwardCommand: Command = {
  name: 'forward',
  summary: 'Run a Hugging Face model (GPT-2 or Llama family) on a prompt: logits and hook activations as .npy.',
  usage: 'sae-lab forward --model DIR (--text "…" | --ids 1,2,3) [--hooks all|NAME,…] [--add HOOK=VEC.npy] [--sae DIR [--error-term] [--steer F=α] [--clamp F=v]] [--ablate HOOK] --out DIR',
  options: {
    model: { type: 'string', help: 'Hugging Face model folder (config.json, model.safetensors or its index, tokenizer.json)' },
    text: { type: 'string', help: 'prompt text (tokenized by the model\'s tokenizer.json)' },
    ids: { type: 'string', help: 'prompt token ids, comma-separated' },
    hooks: { type: 'string', help: 'hooks to write: all, or names like blocks.0.hook_resid_post (comma-separated)' },
    add: { type: 'string', help: 'HOOK=VEC.npy: add the vector (d,) at that hook at every position' },
    ...SAE_OPTIONS,
    'error-term': { type: 'boolean', help: "with --sae: keep the SAE's error x − x̂, so that only the edits change the model" },
    ablate: { type: 'string', help: 'HOOK: set that hook to zero at every position (zero ablation)' },
    out: { type: 'string', help: 'output folder' },
    force: { type: 'boolean', help: 'replace a non-empty output folder' },
  },
  async run(v) {
    const dir = required(v, 'model', 'forward');
    const out = required(v, 'out', 'forward');
    checkOutDir(out, !!v.force);
    const { plan, lm, gpu, input } = await loadCliModel(dir, async (plan, name) => {
      const ids = promptIds(plan, v, 'forward');
      const edits = await addEdits(v.add, plan.config);
      const sae = cliSae(v, plan.config, name, 'forward');
      const ablate = v.ablate === undefined ? undefined : String(v.ablate);
      if (ablate !== undefined) hookOption(ablate, plan.config);
      for (const hook of [sae?.hook, ablate]) if (hook !== undefined && edits.has(hook)) throw new CliError(`sae-lab forward: ${hook} is edited twice (--add, --sae and --ablate each take their own hook)`, 2);
      if (sae && sae.hook === ablate) throw new CliError(`sae-lab forward: ${ablate} is edited twice (--sae and --ablate)`, 2);
      return { input: { ids, hooks: hookList(v.hooks, plan.config), edits, sae, ablate }, batch: 1, context: ids.length };
    });
    const { ids, hooks, edits, sae, ablate } = input;
    const spliced = sae ? spliceEdit(lm, sae, ids.length, !!v['error-term']) : undefined;
    for (const [hook, edit] of spliced?.edits ?? []) edits.set(hook, edit);
    if (ablate !== undefined) edits.set(ablate, fillEdit(lm.device, new Float32Array(plan.config.d)));
    const res = await lm.forward({ ids, read: hooks, edits });
    spliced?.splice.destroy();
    const T = ids.length;
    const written: Record<string, Uint8Array | string> = {
      'ids.json': JSON.stringify(ids) + '\n',
      'logits.npy': encodeNpy(res.logits!, [T, plan.config.vocab]),
    };
    for (const [name, data] of res.hooks) written[`${name}.npy`] = encodeNpy(data, [T, plan.config.d]);
    await writeFolder(out, written);
    lm.destroy();
    process.stderr.write(`wrote ${out}: ${T} tokens, logits and ${res.hooks.size} hooks (${gpu.adapter})\n`);
    return 0;
  },
};
