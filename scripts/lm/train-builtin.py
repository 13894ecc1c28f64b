"""Trains the lab's built-in language model (docs/BUILTIN-LM.md) and saves it in the Hugging Face layout.

A development-time script: CI never runs it. The model in public/models/builtin-lm/ was made by

    node --import ./bin/register.js scripts/lm/write-corpus.ts /tmp/lm-corpus
    python scripts/lm/train-builtin.py --corpus /tmp/lm-corpus --out public/models/builtin-lm

with PyTorch (CPU), transformers, tokenizers and safetensors (versions written to training.json). Everything
it does is seeded; with the same corpus (its SHA-256 is checked against corpus.json) and library versions it
makes the same model up to floating-point reordering across thread counts.

Sequences are made exactly as the lab's harvest makes them (src/model/harvest.ts): one document per
sequence, the document's tokens cut into pieces of CONTEXT - 1, each piece preceded by the BOS token
<|endoftext|>; the last piece of a document is padded and its padding is not trained on.
"""

import argparse
import hashlib
import json
import math
import os
import random
import time

import numpy as np
import torch

SETTINGS = dict(
    vocab_size=4096,
    context=128,
    hidden_size=192,
    num_hidden_layers=4,
    num_attention_heads=6,
    num_key_value_heads=2,
    intermediate_size=512,
    rope_theta=10000.0,
    rms_norm_eps=1e-5,
    batch_size=32,
    learning_rate=3e-3,
    min_learning_rate=3e-4,
    warmup_steps=200,
    weight_decay=0.1,
    seed=1234,
)
BOS = "<|endoftext|>"


def read_corpus(folder):
    manifest = json.load(open(os.path.join(folder, "corpus.json")))
    body = open(os.path.join(folder, "corpus.jsonl"), "rb").read()
    digest = hashlib.sha256(body).hexdigest()
    if digest != manifest["sha256"]:
        raise SystemExit(f"{folder}/corpus.jsonl: SHA-256 {digest} is not the manifest's {manifest['sha256']}")
    docs = [json.loads(line) for line in body.decode("utf8").splitlines() if line]
    return manifest, docs


def train_tokenizer(texts, vocab_size):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[BOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    # encoding text for the model puts BOS first, as the model always saw it (Llama tokenizers do the same)
    tok.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B", special_tokens=[(BOS, tok.token_to_id(BOS))]
    )
    return tok


def sequences(tok, docs, context):
    """one document per sequence: BOS + up to context-1 tokens; returns ids (N, context) and a loss mask"""
    bos = tok.token_to_id(BOS)
    rows, masks = [], []
    for d in docs:
        ids = tok.encode(d["text"], add_special_tokens=False).ids
        for i in range(0, len(ids), context - 1):
            piece = [bos] + ids[i : i + context - 1]
            n = len(piece)
            rows.append(piece + [bos] * (context - n))
            # position t predicts t+1: targets exist for t < n-1
            masks.append([1] * (n - 1) + [0] * (context - n + 1))
    return torch.tensor(rows, dtype=torch.long), torch.tensor(masks, dtype=torch.float32)


def loss_of(model, ids, mask):
    logits = model(input_ids=ids).logits[:, :-1].float()
    target = ids[:, 1:]
    m = mask[:, :-1]
    ce = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1), reduction="none")
    return (ce * m.reshape(-1)).sum(), m.sum()


@torch.no_grad()
def evaluate(model, ids, mask, batch):
    model.eval()
    total, count = 0.0, 0.0
    for i in range(0, len(ids), batch):
        s, n = loss_of(model, ids[i : i + batch], mask[i : i + batch])
        total += s.item()
        count += n.item()
    model.train()
    return total / count, count


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--minutes", type=float, default=45.0, help="training time budget (the step count is fixed by it once, below)")
    ap.add_argument("--steps", type=int, default=0, help="fixed number of steps (overrides --minutes)")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()

    import safetensors
    import tokenizers
    import transformers
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.set_num_threads(args.threads)
    s = SETTINGS
    random.seed(s["seed"])
    np.random.seed(s["seed"])
    torch.manual_seed(s["seed"])

    manifest, docs = read_corpus(args.corpus)
    train_docs = [d for d in docs if d["split"] == "train"]
    held_docs = [d for d in docs if d["split"] == "heldout"]
    tok = train_tokenizer([d["text"] for d in train_docs], s["vocab_size"])
    train_ids, train_mask = sequences(tok, train_docs, s["context"])
    held = {kind: sequences(tok, [d for d in held_docs if d["kind"] == kind], s["context"]) for kind in ("prose", "code")}
    print(f"train sequences {len(train_ids)}, tokens {int(train_mask.sum())}; held-out tokens "
          + ", ".join(f"{k} {int(m.sum())}" for k, (_, m) in held.items()), flush=True)

    bos = tok.token_to_id(BOS)
    config = LlamaConfig(
        vocab_size=s["vocab_size"],
        hidden_size=s["hidden_size"],
        intermediate_size=s["intermediate_size"],
        num_hidden_layers=s["num_hidden_layers"],
        num_attention_heads=s["num_attention_heads"],
        num_key_value_heads=s["num_key_value_heads"],
        max_position_embeddings=s["context"] * 2,
        rms_norm_eps=s["rms_norm_eps"],
        rope_theta=s["rope_theta"],
        tie_word_embeddings=True,
        bos_token_id=bos,
        eos_token_id=bos,
        pad_token_id=bos,
        initializer_range=0.02,
    )
    model = LlamaForCausalLM(config)
    params = sum(p.numel() for p in model.parameters())
    print(f"parameters {params}", flush=True)

    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": s["weight_decay"]}, {"params": no_decay, "weight_decay": 0.0}],
        lr=s["learning_rate"], betas=(0.9, 0.95),
    )

    # the step count: fixed, or measured once from the time of 20 steps so the run fits the budget
    gen = torch.Generator().manual_seed(s["seed"])
    def batch_at():
        idx = torch.randint(0, len(train_ids), (s["batch_size"],), generator=gen)
        return train_ids[idx], train_mask[idx]

    steps = args.steps
    t0 = time.time()
    step = 0
    history = []
    def lr_at(i, total):
        if i < s["warmup_steps"]:
            return s["learning_rate"] * (i + 1) / s["warmup_steps"]
        q = (i - s["warmup_steps"]) / max(1, total - s["warmup_steps"])
        return s["min_learning_rate"] + 0.5 * (s["learning_rate"] - s["min_learning_rate"]) * (1 + math.cos(math.pi * min(1.0, q)))

    total = steps or 10**9
    while step < total:
        if step == 20 and not steps:
            per = (time.time() - t0) / 20
            total = int(args.minutes * 60 / per)
            print(f"{per:.3f} s/step: {total} steps", flush=True)
        for g in opt.param_groups:
            g["lr"] = lr_at(step, total)
        ids, mask = batch_at()
        sm, n = loss_of(model, ids, mask)
        loss = sm / n
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        if step % 100 == 0 or step == total:
            history.append({"step": step, "loss": round(loss.item(), 4), "seconds": round(time.time() - t0, 1)})
            print(json.dumps(history[-1]), flush=True)

    results = {}
    for kind, (ids, mask) in held.items():
        ce, n = evaluate(model, ids, mask, 64)
        results[kind] = {"tokens": int(n), "cross_entropy": round(ce, 4), "perplexity": round(math.exp(ce), 2)}
    print(json.dumps(results), flush=True)

    os.makedirs(args.out, exist_ok=True)
    model.save_pretrained(args.out, safe_serialization=True)
    tok.save(os.path.join(args.out, "tokenizer.json"))
    json.dump(
        {"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": BOS, "eos_token": BOS, "unk_token": BOS,
         "model_max_length": s["context"] * 2, "add_prefix_space": False},
        open(os.path.join(args.out, "tokenizer_config.json"), "w"), indent=2,
    )
    prompt = "The jury said that the city"
    enc = torch.tensor([tok.encode(prompt).ids])  # BOS first, from the post-processor
    out = model.generate(enc, do_sample=False, max_new_tokens=24, pad_token_id=bos)
    continuation = tok.decode(out[0, enc.shape[1]:].tolist())
    info = {
        "settings": s,
        "parameters": params,
        "steps": total,
        "train_tokens_seen": total * s["batch_size"] * (s["context"] - 1),
        "train_tokens": int(train_mask.sum()),
        "seconds": round(time.time() - t0),
        "threads": args.threads,
        "corpus": manifest,
        "heldout": results,
        "greedy": {"prompt": prompt, "bos": True, "continuation": continuation},
        "history": history,
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                     "tokenizers": tokenizers.__version__, "safetensors": safetensors.__version__},
    }
    json.dump(info, open(os.path.join(args.out, "training.json"), "w"), indent=1)
    print(json.dumps(info["greedy"]), flush=True)


if __name__ == "__main__":
    main()
