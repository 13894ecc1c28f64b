// A lab run as SAELens 6 continues it: the SAE in SAELens's *training* form (the folder that
// TrainingSAE.load_from_disk reads, so the run's architecture and its training coefficients come back, not
// only the inference form it is saved in), and a LanguageModelSAERunnerConfig as its to_dict() writes it.
// docs/HANDOVER.md gives the mapping of every field and what has no equivalent.
import { batchK, type TrainConfig } from '../engine/config.ts';
import type { SaeWeights } from '../engine/sae.ts';
import { encodeSafetensors } from '../data/formats/safetensors.ts';
import { SAELENS_VERSION } from '../data/formats/saelens.ts';

/** SAELens's training architecture for each of ours */
const TRAINING_ARCH: Record<TrainConfig['arch'], string> = {
  standard: 'standard', topk: 'topk', jumprelu: 'jumprelu', batchtopk: 'batchtopk', matryoshka: 'matryoshka_batchtopk',
};

/** the run as the hand-over needs it */
export interface HandoverRun {
  /** the weights as the lab saves them: raw activation units, the input scale folded in */
  sae: SaeWeights;
  config: TrainConfig;
  /** s = √d / E‖x‖ of the run's data (RECIPE §1): the continuation trains on s·x, as the run did */
  inputScale: number;
}

/** the `sae` block of the runner config, which is also the starting folder's cfg.json */
export function trainingSaeConfig(run: HandoverRun, metadata: Record<string, unknown>): Record<string, unknown> {
  const { sae, config: c } = run;
  const arch = TRAINING_ARCH[c.arch];
  const head = {
    d_in: sae.d, d_sae: sae.features, dtype: 'float32', device: 'cpu',
    apply_b_dec_to_input: sae.applyBDecToInput, normalize_activations: 'none', reshape_activations: 'none',
    metadata: { sae_lens_version: SAELENS_VERSION, sae_lens_training_version: SAELENS_VERSION, ...metadata },
    decoder_init_norm: 0.1,
  };
  // SAELens's TopK training default rescales by ‖W_dec,i‖; that is the same map only while every row has one
  // norm, as ours do (unit rows, 1/s once s is folded in): a foreign SAE with rows of differing norms keeps false
  const topk = { k: c.k, use_sparse_activations: false, aux_loss_coefficient: c.auxAlpha, rescale_acts_by_decoder_norm: equalRowNorms(sae) };
  const own: Record<TrainConfig['arch'], Record<string, unknown>> = {
    // the run has warmed its coefficient up already: the continuation starts at full strength
    standard: { l1_coefficient: c.l1, lp_norm: 1.0, l1_warm_up_steps: 0 },
    topk,
    jumprelu: {
      jumprelu_init_threshold: c.thresholdInit, jumprelu_bandwidth: c.bandwidth, jumprelu_sparsity_loss_mode: c.jumpMode,
      l0_coefficient: c.l0, l0_warm_up_steps: 0, pre_act_loss_coefficient: c.preAct > 0 ? c.preAct : null, jumprelu_tanh_scale: c.tanhScale,
    },
    batchtopk: { ...topk, topk_threshold_lr: c.thresholdLr },
    matryoshka: { ...topk, topk_threshold_lr: c.thresholdLr, matryoshka_widths: c.widths },
  };
  return { ...head, ...own[c.arch], architecture: arch };
}

function equalRowNorms(sae: SaeWeights): boolean {
  const norms = Array.from({ length: sae.features }, (_, i) => Math.hypot(...sae.W_dec.subarray(i * sae.d, (i + 1) * sae.d)));
  const mean = norms.reduce((a, b) => a + b, 0) / norms.length;
  return norms.every((n) => Math.abs(n - mean) <= 1e-3 * mean);
}

/** sae_weights.safetensors in the training form: BatchTopK's batch threshold as the scalar buffer topk_threshold */
export function trainingSaeWeights(run: HandoverRun): Uint8Array {
  const { sae, config } = run;
  const { d, features: F } = sae;
  const tensors: Record<string, { shape: number[]; data: Float32Array }> = {
    W_enc: { shape: [d, F], data: sae.W_enc },
    b_enc: { shape: [F], data: sae.b_enc },
    W_dec: { shape: [F, d], data: sae.W_dec },
    b_dec: { shape: [d], data: sae.b_dec },
  };
  if (config.arch === 'jumprelu') tensors.threshold = { shape: [F], data: needThreshold(sae) };
  // the lab saves the batch family as JumpReLU with one threshold for every feature: that number is the buffer
  if (batchK(config.arch)) tensors.topk_threshold = { shape: [], data: Float32Array.of(needThreshold(sae)[0]!) };
  return encodeSafetensors(tensors);
}

function needThreshold(sae: SaeWeights): Float32Array {
  if (!sae.threshold) throw new Error(`the ${sae.arch} SAE has no threshold to continue from`);
  return sae.threshold;
}

/** where the continuation reads its activations */
export type ActivationSource =
  | { kind: 'cache'; path: string; hook: string; contextSize: number }
  | { kind: 'model'; model: string; textPath: string; hookModule: string; contextSize: number; prependBos: boolean };

export interface RunnerOptions {
  /** tokens the continuation trains on */
  trainingTokens: number;
  /** the starting weights' folder, relative to the config */
  saePath: string;
  source: ActivationSource;
  /** the `sae` block (trainingSaeConfig) */
  sae: Record<string, unknown>;
  runName: string;
}

/** LanguageModelSAERunnerConfig.to_dict()'s keys in its order, for our run */
export function runnerConfig(run: HandoverRun, o: RunnerOptions): Record<string, unknown> {
  const c = run.config;
  const steps = Math.max(1, Math.floor(o.trainingTokens / c.batch));
  const cache = o.source.kind === 'cache' ? o.source : null;
  const model = o.source.kind === 'model' ? o.source : null;
  return {
    sae: o.sae,
    // with a cache SAELens still loads a model (its evaluator's); the script here trains without one
    model_name: model ? model.model : 'none',
    model_class_name: model ? 'AutoModelForCausalLM' : 'HookedTransformer',
    hook_name: model ? model.hookModule : cache!.hook,
    hook_eval: 'NOT_IN_USE',
    hook_head_index: null,
    dataset_path: model ? model.textPath : cache!.path,
    dataset_trust_remote_code: true,
    streaming: true,
    is_dataset_tokenized: !model,
    context_size: o.source.contextSize,
    use_cached_activations: !model,
    cached_activations_path: cache ? cache.path : null,
    from_pretrained_path: o.saePath,
    n_batches_in_buffer: 20,
    training_tokens: steps * c.batch,
    store_batch_size_prompts: 32,
    seqpos_slice: [null],
    disable_concat_sequences: false,
    sequence_separator_token: 'bos',
    device: 'cuda',
    act_store_device: 'cuda',
    seed: c.seed,
    dtype: 'float32',
    prepend_bos: model ? model.prependBos : true,
    autocast: false,
    autocast_lm: false,
    compile_llm: false,
    llm_compilation_mode: null,
    compile_sae: false,
    sae_compilation_mode: null,
    train_batch_size_tokens: c.batch,
    adam_beta1: 0.9,
    adam_beta2: 0.999,
    lr: c.lr,
    // our schedule: constant, then linear to 0 over the last 20% of the steps (RECIPE §1)
    lr_scheduler_name: 'constant',
    lr_warm_up_steps: 0,
    lr_end: 0.0,
    lr_decay_steps: Math.floor(0.2 * steps),
    n_restart_cycles: 1,
    dead_feature_window: Math.max(1, Math.ceil(c.deadWindowTokens / c.batch)),
    feature_sampling_window: 2000,
    dead_feature_threshold: 1e-8,
    n_eval_batches: 10,
    eval_batch_size_prompts: null,
    logger: {
      log_to_wandb: false,
      log_activations_store_to_wandb: false,
      log_optimizer_state_to_wandb: false,
      wandb_project: 'sae_lens_training',
      wandb_id: o.runName,
      run_name: o.runName,
      wandb_entity: null,
      wandb_log_frequency: 10,
      eval_every_n_wandb_logs: 100,
    },
    n_checkpoints: 0,
    checkpoint_path: 'checkpoints',
    save_final_checkpoint: false,
    output_path: 'output',
    resume_from_checkpoint: null,
    verbose: true,
    model_kwargs: {},
    model_from_pretrained_kwargs: model ? {} : { center_writing_weights: false },
    sae_lens_version: SAELENS_VERSION,
    sae_lens_training_version: SAELENS_VERSION,
    exclude_special_tokens: false,
  };
}
