// The hand-over folder's README and its sparsify command: what is in the folder, the one command that trains
// it with SAELens, how the result comes back into the lab, and what does not carry over.
import type { HandoverRun } from './saelens-runner.ts';
import type { ScaleExport } from './scale-export.ts';
import type { HookModule } from '../model/hf-modules.ts';

/**
 * EleutherAI's sparsify trains TopK SAEs across GPUs (torchrun) on a Hugging Face model and dataset. It trains
 * a fresh SAE (it cannot start from our weights) of the same size, k, learning rate and AuxK; null for the
 * architectures it does not train.
 */
export function sparsifyCommand(run: HandoverRun, hookpoint: string, contextSize: number, tokens: number): string | null {
  const c = run.config;
  if (c.arch !== 'topk') return null;
  const sequences = Math.max(1, Math.round(c.batch / contextSize));
  const args = [
    'torchrun --nproc_per_node gpu -m sparsify ./model ./corpus',
    `--hookpoints ${hookpoint}`,
    `--num_latents ${c.features} -k ${c.k}`,
    `--ctx_len ${contextSize} --batch_size ${sequences}`,
    `--optimizer adam --lr ${c.lr} --lr_warmup_steps 0`,
    `--auxk_alpha ${c.auxAlpha} --dead_feature_threshold ${c.deadWindowTokens}`,
    `--max_examples ${Math.ceil(tokens / contextSize)} --init_seeds ${c.seed}`,
    '--log_to_wandb false --save_dir sparsify-out',
  ];
  return `#!/bin/sh\n# A fresh TopK SAE like this run's, trained by EleutherAI's sparsify on every GPU of the machine (README.md says what differs).\n${args.join(' \\\n  ')}\n`;
}

export function scaleReadme(e: ScaleExport, module: HookModule | null): string {
  const c = e.run.config;
  const fromModel = e.model && module && e.documents;
  const lines = [
    `# Continue this run in SAELens`,
    '',
    `A ${c.arch} SAE with ${c.features} features over d = ${e.rows.d} (${e.hook}), trained ${e.stepsDone} of ${c.steps} steps of ${c.batch} rows in SAE Lab.`,
    '',
    '## Train it on a GPU',
    '',
    '```sh',
    'pip install "sae-lens>=6.18,<7" "datasets>=4"',
    'python train_sae.py            # continues on cache/ for the tokens in runner-config.json',
    'python train_sae.py --tokens 50000000',
    ...(fromModel ? ['python train_sae.py --from-model   # streams activations from model/ over corpus/ instead'] : []),
    '```',
    '',
    'The trained SAE is written to `output/` as SAELens saves it. Bring it back into the lab: **SAEs → Import a SAELens',
    'SAE** in the page (pick the folder\'s `cfg.json` and `sae_weights.safetensors`), or `sae-lab eval --sae output --data …`.',
    '',
    '## What is here',
    '',
    `- \`cache/\`: the dataset (${e.rows.rows} rows) as SAELens's CacheActivationsRunner writes it: a Hugging Face \`datasets\``,
    `  folder whose column \`${e.hook}\` holds ${e.contextSize} token position${e.contextSize === 1 ? '' : 's'} per row${e.tokenIds ? ', with `token_ids` beside it' : ''}, in the dataset's order.`,
    '- `sae/`: the run\'s current weights in SAELens\'s training form (`TrainingSAE.load_from_disk`), the starting point',
    '  (`from_pretrained_path`).',
    '- `runner-config.json`: a `LanguageModelSAERunnerConfig` (`LanguageModelSAERunnerConfig.from_dict` reads it) with this',
    '  run\'s architecture and hyperparameters on the cache.',
    ...(fromModel
      ? [
          `- \`model/\` (${e.model!.name}) and \`corpus/\`: the model and the text the activations came from;`,
          `  \`runner-config-model.json\` streams \`${module!.full}\` (the module whose output is ${e.hook}) at ten times the tokens.`,
        ]
      : []),
    ...(fromModel && c.arch === 'topk' ? ['- `sparsify.sh`: the same SAE trained from scratch across GPUs by EleutherAI\'s sparsify.'] : []),
    '- `lab-run.json`: the lab\'s own record of the run (its configuration and input scale).',
    '',
    '## What carries over, and what does not',
    '',
    `- The input scale: the lab trains on s·x with s = √d / E‖x‖ = ${e.run.inputScale.toPrecision(6)} and saves weights that read raw x.`,
    '  `train_sae.py` takes s out of the starting weights, trains on s·x and folds s back in before saving, so the',
    '  learning rate and coefficients mean what they meant in the lab, also with `--from-model` (SAELens\'s',
    '  ActivationsStore streams the model\'s activations; the script scales them by the same s).',
    '- The learning-rate schedule restarts: constant, then linear to 0 over the last 20% of the new steps, as in the lab.',
    '  Sparsity coefficients start at full strength (the run already warmed them up).',
    '- Not carried: Adam\'s moments (SAELens starts a fresh optimiser), the lab\'s Adam ε for TopK-family runs (SAELens uses',
    '  PyTorch\'s 1e-8), the number of AuxK latents (SAELens uses d_in / 2), and the dead-latent counters.',
    ...(fromModel && c.arch === 'topk'
      ? [
          '- sparsify: a fresh SAE (it cannot start from these weights), trained on raw activations (no input scale), with its',
          '  own decoder normalisation and FVU loss; `--batch_size` counts sequences of `--ctx_len` tokens.',
        ]
      : []),
    ...(fromModel && c.arch !== 'topk' ? [`- sparsify trains TopK SAEs only: no command for a ${c.arch} run.`] : []),
  ];
  return lines.join('\n') + '\n';
}
