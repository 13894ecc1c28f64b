#!/usr/bin/env python3
"""Make the reference fixtures under test/fixtures/lm/ with Hugging Face transformers.

Development-time tool only: CI never runs it, and the tests read the files it wrote (they are committed).
Needs a Python environment with torch, transformers, tokenizers, safetensors and numpy (CPU is enough):

    python scripts/lm/make-fixtures.py --shared PATH/TO/fixtures/lm

where --shared is the folder holding the shared gpt2-tiny and llama-tiny fixtures. The script first checks
that its hook capture reproduces those fixtures' expected arrays (and stops if it does not), then writes one
folder per variant: a tiny random model saved by `save_pretrained` (safetensors, Hugging Face layout), the
shared 512-token tokenizer, and `expected/` in the shared fixtures' format:
  prompts.json, P{i}.blocks.{L}.hook_{resid_pre,attn_out,resid_mid,mlp_out,resid_post}.npy (T, d) float32,
  P{i}.logits.npy (T, vocab) float32, steer.vec.npy / steer.logits.npy (vector added to
  blocks.0.hook_resid_post at every position of prompt 0), greedy.json (24 greedy ids after prompt 0).
Everything is seeded, so a rerun with the same library versions gives the same files (the committed ones
were made with transformers 5.18.0, torch 2.13.0+cpu, tokenizers 0.23.2, safetensors 0.8.0, numpy 2.4.6).
"""

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # every model is read from a local folder

import numpy as np
import torch
import tokenizers
import transformers
from transformers import AutoModelForCausalLM, GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "test" / "fixtures" / "lm"
HOOKS = ["hook_resid_pre", "hook_attn_out", "hook_resid_mid", "hook_mlp_out", "hook_resid_post"]
N_NEW = 24
MIN_MARGIN = 0.02
TOKENIZER_FILES = ["tokenizer.json", "tokenizer_config.json"]


# ---------------------------------------------------------------- hook capture

def blocks_of(model):
    """(decoder layers, attention module name, mlp module name) for GPT-2 and Llama models."""
    if hasattr(model, "transformer"):
        return model.transformer.h, "attn", "mlp"
    return model.model.layers, "self_attn", "mlp"


def first(x):
    return x[0] if isinstance(x, (tuple, list)) else x


@torch.no_grad()
def run_with_hooks(model, ids, steer=None):
    """Logits (T, vocab) and the five hook points of every block for one prompt.

    resid_pre = block input, attn_out = attention module output (after its output projection),
    resid_mid = resid_pre + attn_out, mlp_out = MLP module output, resid_post = block output.
    With `steer` (d,), the vector is added to blocks.0.hook_resid_post at every position.
    """
    layers, attn_name, mlp_name = blocks_of(model)
    acts, handles = {}, []

    def pre_hook(i):
        def fn(_module, args, kwargs):
            h = args[0] if args else kwargs["hidden_states"]
            acts[f"blocks.{i}.hook_resid_pre"] = h[0].clone()
        return fn

    def out_hook(key, add=None):
        def fn(_module, _inputs, output):
            h = first(output)
            if add is not None:
                h = h + add.to(h.dtype)
                output = (h, *output[1:]) if isinstance(output, (tuple, list)) else h
            acts[key] = h[0].clone()
            return output
        return fn

    for i, layer in enumerate(layers):
        handles.append(layer.register_forward_pre_hook(pre_hook(i), with_kwargs=True))
        handles.append(getattr(layer, attn_name).register_forward_hook(out_hook(f"blocks.{i}.hook_attn_out")))
        handles.append(getattr(layer, mlp_name).register_forward_hook(out_hook(f"blocks.{i}.hook_mlp_out")))
        add = torch.as_tensor(steer) if (steer is not None and i == 0) else None
        handles.append(layer.register_forward_hook(out_hook(f"blocks.{i}.hook_resid_post", add)))
    try:
        logits = model(input_ids=torch.tensor([ids]), use_cache=False).logits[0]
    finally:
        for h in handles:
            h.remove()
    for i in range(len(layers)):
        acts[f"blocks.{i}.hook_resid_mid"] = acts[f"blocks.{i}.hook_resid_pre"] + acts[f"blocks.{i}.hook_attn_out"]
    out = {k: v.float().numpy().astype(np.float32) for k, v in acts.items()}
    out["logits"] = logits.float().numpy().astype(np.float32)
    return out


@torch.no_grad()
def greedy(model, ids):
    x = torch.tensor([ids])
    y = model.generate(input_ids=x, attention_mask=torch.ones_like(x), do_sample=False, max_new_tokens=N_NEW,
                       return_dict_in_generate=True, output_logits=True)
    top2 = torch.stack([step[0].topk(2).values for step in y.logits])
    return y.sequences[0, len(ids):].tolist(), float((top2[:, 0] - top2[:, 1]).min())


def load_f32(folder):
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, attn_implementation="eager")
    return model.eval()


def compute_expected(folder, ids_list, steer_vec):
    model = load_f32(folder)
    arrays = {}
    for p, ids in enumerate(ids_list):
        for k, v in run_with_hooks(model, ids).items():
            arrays[f"P{p}.{k}"] = v
    arrays["steer.logits"] = run_with_hooks(model, ids_list[0], steer=steer_vec)["logits"]
    new_ids, margin = greedy(model, ids_list[0])
    return arrays, new_ids, margin, model.config.num_hidden_layers


# ---------------------------------------------------------------- check against the shared fixtures

def within(a, b):
    """The fixtures' matching rule: |a - b| <= 1e-4 * max(1, |b|) everywhere."""
    return a.shape == b.shape and bool(np.all(np.abs(a - b) <= 1e-4 * np.maximum(1.0, np.abs(b))))


def check_shared(shared):
    for name in ["gpt2-tiny", "llama-tiny"]:
        folder = shared / name
        meta = json.loads((folder / "expected" / "prompts.json").read_text())
        vec = np.load(folder / "expected" / "steer.vec.npy")
        arrays, new_ids, _, _ = compute_expected(folder, meta["ids"], vec)
        worst = 0.0
        for key, got in arrays.items():
            ref = np.load(folder / "expected" / f"{key}.npy")
            if not within(got, ref):
                sys.exit(f"{name}: {key} does not reproduce the shared fixture")
            worst = max(worst, float(np.max(np.abs(got - ref))))
        ref_greedy = json.loads((folder / "expected" / "greedy.json").read_text())
        if new_ids != ref_greedy["new_ids"]:
            sys.exit(f"{name}: greedy ids differ from the shared fixture")
        print(f"check {name}: {len(arrays)} arrays reproduced (max abs diff {worst:.2e}), greedy ids identical")
    return json.loads((shared / "gpt2-tiny" / "expected" / "prompts.json").read_text())


# ---------------------------------------------------------------- building the variants

def randomise(model, seed):
    """Norm gains ~ 1 + 0.3 N(0,1), norm biases ~ 0.1 N, other biases ~ 0.05 N (as in the shared fixtures);
    matrices keep the config's normal(0, initializer_range) initialisation."""
    g = torch.Generator().manual_seed(seed + 1000)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.ndim != 1:
                continue
            is_norm = any(s in name for s in ("norm", "ln_"))
            if is_norm and name.endswith("weight"):
                p.copy_(1.0 + 0.3 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias"):
                p.copy_((0.1 if is_norm else 0.05) * torch.randn(p.shape, generator=g))
    return model


def legacy_rope_config(folder):
    """Rewrite config.json's `rope_parameters` (the layout transformers 5 saves) as `rope_theta` +
    `rope_scaling`, the layout of the Llama checkpoints published on the Hub and of the shared fixtures."""
    path = folder / "config.json"
    cfg = json.loads(path.read_text())
    rope = dict(cfg.pop("rope_parameters"))
    cfg["rope_theta"] = float(rope.pop("rope_theta"))
    cfg["rope_scaling"] = None if rope.get("rope_type", "default") == "default" else rope
    path.write_text(json.dumps(dict(sorted(cfg.items())), indent=2) + "\n")


def build_gpt2(folder, seed, **cfg):
    torch.manual_seed(seed)
    config = GPT2Config(vocab_size=512, n_positions=64, n_layer=2, initializer_range=0.15,
                        bos_token_id=0, eos_token_id=0, **cfg)
    model = randomise(GPT2LMHeadModel(config).eval(), seed)
    model.save_pretrained(folder, safe_serialization=True)


def build_llama(folder, seed, dtype=torch.float32, max_shard_size="50GB", legacy_rope=True, **cfg):
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=512, max_position_embeddings=64, num_hidden_layers=2,
                         initializer_range=0.15, bos_token_id=0, eos_token_id=0, **cfg)
    model = randomise(LlamaForCausalLM(config).eval(), seed).to(dtype)
    model.save_pretrained(folder, safe_serialization=True, max_shard_size=max_shard_size)
    if legacy_rope:
        legacy_rope_config(folder)


def build_gpt2_f16(folder, shared):
    model = AutoModelForCausalLM.from_pretrained(shared / "gpt2-tiny", dtype=torch.float32).eval()
    model.to(torch.float16).save_pretrained(folder, safe_serialization=True)


# Weight seeds (gpt2-f16 reuses the shared gpt2-tiny weights), picked so that greedy decoding never meets a
# near-tie (see MIN_MARGIN). The steering vector of variant k uses numpy seed 100 + k.
SEEDS = {"llama-mqa-tied": 13, "llama-bias-hd": 19, "gpt2-wide": 11, "gpt2-f16": None, "llama-bf16-sharded": 27}


def variants(shared):
    return {
        "llama-mqa-tied": lambda f, seed: build_llama(
            f, seed, hidden_size=48, num_attention_heads=3, num_key_value_heads=1, head_dim=16,
            intermediate_size=80, tie_word_embeddings=True, rope_theta=500000.0, rms_norm_eps=1e-6),
        "llama-bias-hd": lambda f, seed: build_llama(
            f, seed, hidden_size=32, num_attention_heads=4, num_key_value_heads=2, head_dim=12,
            intermediate_size=64, attention_bias=True, mlp_bias=True, tie_word_embeddings=False,
            rope_theta=10000.0, rms_norm_eps=1e-5,
            rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                          "high_freq_factor": 4.0, "original_max_position_embeddings": 16}),
        "gpt2-wide": lambda f, seed: build_gpt2(
            f, seed, n_embd=48, n_head=3, n_inner=80, activation_function="gelu_new",
            scale_attn_by_inverse_layer_idx=True, layer_norm_epsilon=1e-6),
        "gpt2-f16": lambda f, seed: build_gpt2_f16(f, shared),
        # Keeps transformers 5's `rope_parameters` layout in config.json, so both layouts are covered.
        "llama-bf16-sharded": lambda f, seed: build_llama(
            f, seed, dtype=torch.bfloat16, max_shard_size="40KB", legacy_rope=False,
            hidden_size=32, num_attention_heads=4, num_key_value_heads=2, head_dim=8,
            intermediate_size=64, tie_word_embeddings=False, rope_theta=10000.0, rms_norm_eps=1e-5),
    }


def write_variant(name, build, shared, prompts, seed, out=OUT):
    folder = out / name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    build(folder, SEEDS[name])
    for f in TOKENIZER_FILES:
        shutil.copyfile(shared / "gpt2-tiny" / f, folder / f)

    tok = tokenizers.Tokenizer.from_file(str(folder / "tokenizer.json"))
    ids = [tok.encode(text).ids for text in prompts["prompts"]]
    if ids != prompts["ids"]:
        sys.exit("tokenizer ids differ from the shared prompts.json")

    config = json.loads((folder / "config.json").read_text())
    d = config.get("hidden_size", config.get("n_embd"))
    vec = (2.0 * np.random.RandomState(seed).randn(d)).astype(np.float32)
    arrays, new_ids, margin, n_layers = compute_expected(folder, ids, vec)
    if len(new_ids) != N_NEW:
        sys.exit(f"{name}: generation stopped after {len(new_ids)} tokens")
    # A near-tie between the two best logits could flip an otherwise matching implementation's greedy ids:
    # the seeds in SEEDS were picked so that every step's gap is comfortably above the tolerance.
    if margin < MIN_MARGIN:
        sys.exit(f"{name}: greedy top-2 logit gap {margin:.4f} < {MIN_MARGIN}; pick another seed")

    exp = folder / "expected"
    exp.mkdir()
    for key, value in arrays.items():
        np.save(exp / f"{key}.npy", value)
    np.save(exp / "steer.vec.npy", vec)
    (exp / "greedy.json").write_text(json.dumps({"prompt_ids": ids[0], "new_ids": new_ids}))
    meta = {
        "prompts": prompts["prompts"],
        "ids": ids,
        "steer": {"hook": "blocks.0.hook_resid_post", "vector": "steer.vec.npy", "positions": "all"},
        "hooks": sorted(f"{L}.{h}" for L in range(n_layers) for h in HOOKS),
        "made_with": {"transformers": transformers.__version__, "torch": torch.__version__},
    }
    (exp / "prompts.json").write_text(json.dumps(meta, indent=1))
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    print(f"wrote {name}: {size / 1024:.0f} KiB, greedy top-2 gap >= {margin:.4f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", required=True, type=Path, help="folder holding gpt2-tiny/ and llama-tiny/")
    ap.add_argument("--only", nargs="*", help="variant names to (re)make; default all")
    args = ap.parse_args()
    prompts = check_shared(args.shared)
    for seed, (name, build) in enumerate(variants(args.shared).items()):
        if args.only and name not in args.only:
            continue
        write_variant(name, build, args.shared, prompts, 100 + seed)


if __name__ == "__main__":
    main()
