// train_sae.py of the hand-over folder: the one command that continues the run with SAELens 6 on a GPU.
// The lab trains on s·x with s folded into the weights it saves (RECIPE §1): the script unfolds s from the
// starting SAE, feeds SAELens's SAETrainer s·x (from the cache, or from SAELens's ActivationsStore streaming
// the model) and folds s back before saving, so the continuation is the same optimisation problem as the run,
// in the same units. BatchTopK's threshold is compared with activations rescaled by ‖W_dec,i‖, which the fold
// divides by s: the threshold is divided with them (SAELens's own fold leaves it, docs/HANDOVER.md). The cache's
// token_ids feature is written as `datasets` 4 writes it (a List), hence datasets>=4.
export const TRAIN_SCRIPT = `#!/usr/bin/env python3
"""Continue an SAE Lab run with SAELens 6 (pip install "sae-lens>=6.18,<7" "datasets>=4").

  python train_sae.py                 # on the activation cache in cache/
  python train_sae.py --from-model    # streaming activations from model/ over corpus/ (when exported)
  python train_sae.py --tokens 50000000 --device cuda

Writes the trained SAE to output/ as SAELens saves it; the lab imports that folder as it is.
"""
import argparse
import json
import math
import os

import torch

here = os.path.dirname(os.path.abspath(__file__))
os.chdir(here)

parser = argparse.ArgumentParser()
parser.add_argument("--from-model", action="store_true", help="stream activations from model/ (runner-config-model.json)")
parser.add_argument("--tokens", type=int, default=None, help="training tokens (default: the config's)")
parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
args = parser.parse_args()

from sae_lens import LanguageModelSAERunnerConfig, TrainingSAE  # noqa: E402
from sae_lens.training.sae_trainer import SAETrainer  # noqa: E402

lab = json.load(open("lab-run.json"))
scale = float(lab["input_scale"])
with open("runner-config-model.json" if args.from_model else "runner-config.json") as f:
    cfg_dict = json.load(f)
cfg_dict["device"] = cfg_dict["act_store_device"] = args.device
if args.tokens:
    steps = args.tokens // cfg_dict["train_batch_size_tokens"]
    cfg_dict["training_tokens"] = steps * cfg_dict["train_batch_size_tokens"]
    cfg_dict["lr_decay_steps"] = int(0.2 * steps)
cfg = LanguageModelSAERunnerConfig.from_dict(cfg_dict)


def cached_batches(path, column, batch, seed, device):
    """Random batches of rows from the cache, epoch after epoch, read a chunk of rows at a time."""
    import datasets

    ds = datasets.load_from_disk(path)
    ds.set_format("torch", columns=[column])
    contexts = len(ds)
    chunk = max(1, (1 << 16) // ds.features[column].shape[0])
    gen = torch.Generator().manual_seed(seed)
    leftover = None
    while True:
        for c in torch.randperm(math.ceil(contexts / chunk), generator=gen).tolist():
            rows = ds[c * chunk : min(contexts, (c + 1) * chunk)][column]
            rows = rows.reshape(-1, rows.shape[-1]).float()
            rows = rows[torch.randperm(rows.shape[0], generator=gen)]
            if leftover is not None:
                rows = torch.cat([leftover, rows])
            n = rows.shape[0] // batch * batch
            for i in range(0, n, batch):
                yield rows[i : i + batch].to(device)
            leftover = rows[n:]


def model_batches():
    """The hook's activations as SAELens's ActivationsStore streams them from the model over the text."""
    from sae_lens import ActivationsStore
    from sae_lens.load_model import load_model

    model = load_model(cfg.model_class_name, cfg.model_name, device=args.device, model_from_pretrained_kwargs=cfg.model_from_pretrained_kwargs)
    return ActivationsStore.from_config(model, cfg)


rows = model_batches() if args.from_model else cached_batches(cfg.cached_activations_path, cfg.hook_name, cfg.train_batch_size_tokens, cfg.seed, args.device)
sae = TrainingSAE.load_from_disk(cfg.from_pretrained_path, device=args.device)
# the saved weights read raw activations: take the lab's input scale back out of them and train on s*x
sae.fold_activation_norm_scaling_factor(1.0 / scale)
trainer = SAETrainer(cfg=cfg.to_sae_trainer_config(), sae=sae, data_provider=(x * scale for x in rows))
sae = trainer.fit()
sae.fold_activation_norm_scaling_factor(scale)
if hasattr(sae, "topk_threshold") and getattr(sae.cfg, "rescale_acts_by_decoder_norm", False):
    sae.topk_threshold /= scale
sae.save_inference_model(cfg.output_path)
print(f"wrote {cfg.output_path}/: import it in the lab (SAEs, Import a SAELens SAE), or sae-lab eval --sae {cfg.output_path} --data ...")
`;
