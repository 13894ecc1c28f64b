// sae-lab generate: continue a prompt on the key/value cache; prints {"ids": [new ids], "text": "…"}.
// With --sae and --steer/--clamp, the continuation of the model with those features edited at the SAE's
// hook, the SAE's error term kept (so that only the edit changes the model).
import { generate } from '../model/generate.ts';
import { CliError, intOption, numberOption, required, type Command } from './args.ts';
import { loadCliModel, promptIds } from './model.ts';
import { SAE_OPTIONS, cliSae, spliceEdit } from './sae-edits.ts';

export const generateCommand: Command = {
  name: 'generate',
  summary: 'Continue a prompt with a Hugging Face model, greedily or sampled with a seed; prints JSON.',
  usage: 'sae-lab generate --model DIR (--text "…" | --ids 1,2,3) --tokens N [--greedy | --seed S --temperature τ] [--sae DIR (--steer F=α | --clamp F=v)]',
  options: {
    model: { type: 'string', help: 'Hugging Face model folder' },
    text: { type: 'string', help: 'prompt text' },
    ids: { type: 'string', help: 'prompt token ids, comma-separated' },
    tokens: { type: 'string', help: 'new tokens at most (fewer when the model ends the text)' },
    greedy: { type: 'boolean', help: 'take the most likely token each time (the default without --seed)' },
    seed: { type: 'string', help: 'sample with this seed' },
    temperature: { type: 'string', help: 'sampling temperature (with --seed)', default: '1' },
    ...SAE_OPTIONS,
  },
  async run(v) {
    const dir = required(v, 'model', 'generate');
    required(v, 'tokens', 'generate');
    const tokens = intOption(v, 'tokens');
    if (v.greedy && v.seed !== undefined) throw new CliError('sae-lab generate: --greedy and --seed exclude each other', 2);
    const sample = v.seed !== undefined ? { seed: intOption(v, 'seed', 0), temperature: numberOption(v, 'temperature') } : undefined;
    const { plan, lm, input } = await loadCliModel(dir, async (plan, name) => {
      const prompt = promptIds(plan, v, 'generate');
      if (prompt.length >= plan.config.maxPositions) throw new CliError(`${dir}: the prompt's ${prompt.length} tokens leave no room in the model's ${plan.config.maxPositions} positions`);
      return { input: { prompt, sae: cliSae(v, plan.config, name, 'generate') }, batch: 1, context: Math.min(prompt.length + tokens, plan.config.maxPositions) };
    });
    const spliced = input.sae ? spliceEdit(lm, input.sae, input.prompt.length, true) : undefined;
    const ids = await generate(lm, input.prompt, { tokens, sample, edits: spliced?.edits });
    spliced?.splice.destroy();
    lm.destroy();
    process.stdout.write(JSON.stringify({ ids, text: plan.tokenizer.decode(ids) }) + '\n');
    return 0;
  },
};
