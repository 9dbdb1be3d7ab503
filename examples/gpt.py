"""A small GPT (decoder-only transformer) that learns to write Shakespeare, one character at a time.

The model: token + learned position Embedding -> a few pre-norm TransformerEncoderLayers (GELU) run
causally (each position sees itself and the past only: mt.generate_square_subsequent_mask) -> a
final LayerNorm -> a Linear head to the vocabulary, its weight tied to the token embedding by
default (logits = h @ tok.weight.T). Trained with AdamW on random windows of the first 90 % of
"tiny shakespeare", scored on the last 10 % against a bigram model (character pair counts, add-one
smoothing) fitted on the same training text; then it writes text with temperature and top-k and,
if matplotlib is installed, saves one head's attention weights as a PNG.
Run: python examples/gpt.py [--time-budget 160] [--steps 100000] [--quick] [--seed 0]
"""

from __future__ import annotations

import os

# One BLAS thread unless the environment says otherwise: these matrices are small (64 x 256), and on a
# busy 2-core machine two OpenBLAS threads spin against each other (measured 20x slower steps here).
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

import minitorch as mt  # noqa: E402


class GPT(mt.Module):
    """Decoder-only transformer over characters; ``backward`` is the chain written out.

    Shapes:   ids (N, T) integers   logits (N, T, V)
    Forward:  x = tok(ids) + pos(arange(T));  h = blocks(x, causal mask) (final LayerNorm inside)
              logits = h @ tok.weight.T (tied) or head(h)
    Backward: dh = dlogits @ tok.weight, tok.weight.grad += dlogits.T @ h (tied) or head.backward
              dx = blocks.backward(dh);  tok.backward(dx);  pos.backward(dx.sum(axis=0))
    """

    def __init__(self, vocab: int, block: int, d_model: int, nhead: int, layers: int, dropout: float,
                 tie: bool = True, ff_mult: int = 4) -> None:
        super().__init__()
        self.block, self.tie = block, tie
        self.tok = mt.Embedding(vocab, d_model)
        self.pos = mt.Embedding(block, d_model)
        # GELU in GPT-2's tanh form: as smooth as the exact (erf) one and cheaper to compute
        layer = mt.TransformerEncoderLayer(d_model, nhead, ff_mult * d_model, dropout=dropout,
                                           activation=mt.GELU(approximate="tanh"), batch_first=True,
                                           norm_first=True)
        self.blocks = mt.TransformerEncoder(layer, layers, norm=mt.LayerNorm(d_model),
                                            enable_nested_tensor=False)
        self.head = None if tie else mt.Linear(d_model, vocab, bias=False)
        for p in (self.tok.weight, self.pos.weight):
            p.data *= 0.02  # GPT-2's small embedding init: a tied head starts with small logits

    def forward(self, ids: np.ndarray) -> np.ndarray:
        T = ids.shape[1]
        x = self.tok(ids) + self.pos(np.arange(T))
        h = self.blocks(x, mask=mt.generate_square_subsequent_mask(T, x.dtype), is_causal=True)
        self._h = h
        return h @ self.tok.weight.data.T if self.tie else self.head(h)

    def backward(self, dlogits: np.ndarray) -> None:
        if self.tie:
            h, V = self._h, self.tok.num_embeddings
            self.tok.weight.accumulate_grad(dlogits.reshape(-1, V).T @ h.reshape(-1, h.shape[-1]))
            dh = dlogits @ self.tok.weight.data
        else:
            dh = self.head.backward(dlogits)
        dx = self.blocks.backward(dh)
        self.tok.backward(dx)
        self.pos.backward(dx.sum(axis=0))


def bigram_loss(train: np.ndarray, test: np.ndarray, vocab: int) -> float:
    """Held-out cross-entropy (nats/char) of character pair counts with add-one smoothing."""
    counts = np.ones((vocab, vocab))
    np.add.at(counts, (train[:-1], train[1:]), 1.0)
    log_p = np.log(counts / counts.sum(axis=1, keepdims=True))
    return float(-log_p[test[:-1], test[1:]].mean())


def windows(data: np.ndarray, starts: np.ndarray, block: int) -> tuple[np.ndarray, np.ndarray]:
    idx = starts[:, None] + np.arange(block)
    return data[idx], data[idx + 1]


def evaluate(model: GPT, data: np.ndarray, block: int, batch: int, batches: int) -> float:
    """Mean cross-entropy over ``batches`` fixed, evenly spaced windows of ``data`` (dropout off)."""
    model.eval()
    loss_fn = mt.CrossEntropyLoss()
    starts = np.linspace(0, len(data) - block - 1, batches * batch).astype(int)
    total = 0.0
    with mt.no_grad():  # keeps no caches: nothing waits for a backward
        for chunk in starts.reshape(batches, batch):
            x, y = windows(data, chunk, block)
            total += loss_fn(model(x).reshape(-1, model.tok.num_embeddings), y.reshape(-1))
    model.train()
    return total / batches


def generate(model: GPT, prompt: np.ndarray, length: int, temperature: float, top_k: int,
             rng: np.random.Generator) -> np.ndarray:
    """Sample ``length`` characters after ``prompt``: softmax(logits / temperature) over the top k."""
    model.eval()
    ids = list(prompt)
    for _ in range(length):
        context = np.array(ids[-model.block:])[None]
        with mt.no_grad():  # keeps no caches: nothing waits for a backward
            logits = model(context)[0, -1] / temperature
        cutoff = np.sort(logits)[-top_k]
        logits = np.where(logits < cutoff, -np.inf, logits)
        p = np.exp(logits - logits.max())
        ids.append(int(rng.choice(len(p), p=p / p.sum())))
    model.train()
    return np.array(ids[len(prompt):])


def plot_attention(model: GPT, ids: np.ndarray, chars: list[str], path: Path) -> bool:
    """Save the first layer's head 0 attention weights on ``ids`` as a PNG; False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    model.eval()
    layer = model.blocks.layers[0]
    with mt.no_grad():  # keeps no caches: nothing waits for a backward
        x = model.tok(ids[None]) + model.pos(np.arange(len(ids)))
        xn = layer.norm1(x)
        mask = mt.generate_square_subsequent_mask(len(ids), xn.dtype)
        _, w = layer.self_attn(xn, xn, xn, attn_mask=mask, average_attn_weights=False)
    model.train()
    labels = [{" ": "_", "\n": "\\n"}.get(chars[i], chars[i]) for i in ids]
    fig, ax = plt.subplots(figsize=(7, 6))
    ax.imshow(w[0, 0], cmap="viridis")
    ax.set_xticks(range(len(ids)), labels, fontsize=7)
    ax.set_yticks(range(len(ids)), labels, fontsize=7)
    ax.set_xlabel("attends to (key)")
    ax.set_ylabel("position (query)")
    ax.set_title("GPT layer 1, head 1: attention weights")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--time-budget", type=float, default=160.0, help="training seconds (default 160)")
    parser.add_argument("--steps", type=int, default=100_000, help="at most this many steps")
    parser.add_argument("--block", type=int, default=32)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--d-model", type=int, default=64)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--ff-mult", type=int, default=2, help="dim_feedforward = ff_mult * d_model")
    parser.add_argument("--dropout", type=float, default=0.0)
    parser.add_argument("--lr", type=float, default=4e-3)
    parser.add_argument("--no-tie", action="store_true", help="a separate Linear head")
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--top-k", type=int, default=10)
    parser.add_argument("--plot", default="gpt_attention.png")
    parser.add_argument("--quick", action="store_true", help="a tiny model and a few steps (tests)")
    args = parser.parse_args()
    if args.quick:
        args.time_budget, args.steps, args.block, args.batch = 20.0, 30, 16, 8
        args.d_model, args.layers, args.heads = 16, 1, 2

    start = time.perf_counter()
    mt.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    text = mt.datasets.load_text("shakespeare")
    chars = sorted(set(text))
    index = {c: i for i, c in enumerate(chars)}
    data = np.array([index[c] for c in text])
    split = int(0.9 * len(data))
    train, test = data[:split], data[split:]
    V = len(chars)
    baseline = bigram_loss(train, test, V)

    model = GPT(V, args.block, args.d_model, args.heads, args.layers, args.dropout, tie=not args.no_tie,
                ff_mult=args.ff_mult)
    loss_fn = mt.CrossEntropyLoss()
    optimizer = mt.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    print(f"GPT: {sum(p.size for p in model.parameters()):,} parameters, vocabulary {V}, "
          f"context {args.block}; bigram baseline {baseline:.3f} nats/char")

    step, train_start = 0, time.perf_counter()
    while step < args.steps and time.perf_counter() - train_start < args.time_budget:
        progress = (time.perf_counter() - train_start) / args.time_budget
        cosine = 0.5 * (1 + np.cos(np.pi * min(progress, 1.0)))
        lr = args.lr * min(1.0, (step + 1) / 50) * (0.1 + 0.9 * cosine)
        for group in optimizer.param_groups:
            group["lr"] = lr  # warm-up, then cosine decay over the time budget
        x, y = windows(train, rng.integers(0, len(train) - args.block - 1, args.batch), args.block)
        loss = loss_fn(model(x).reshape(-1, V), y.reshape(-1))
        optimizer.zero_grad()
        model.backward(loss_fn.backward().reshape(args.batch, args.block, V))
        optimizer.step()
        step += 1
        if step % 100 == 0:
            elapsed = time.perf_counter() - train_start
            print(f"step {step:5d}  train loss {loss:.3f}  lr {lr:.2e}  {elapsed:5.0f} s")
    train_time = time.perf_counter() - train_start

    held_out = evaluate(model, test, args.block, args.batch, batches=4 if args.quick else 40)
    print(f"Trained {step} steps in {train_time:.0f} s ({time.perf_counter() - start:.0f} s in all)")
    print(f"Held-out loss: {held_out:.3f} nats/char (bigram baseline: {baseline:.3f})")
    prompt = np.array([index[c] for c in "ROMEO:\n"])
    sample = generate(model, prompt, 40 if args.quick else 400, args.temperature, args.top_k, rng)
    print("ROMEO:\n" + "".join(chars[i] for i in sample))
    ids = np.array([index[c] for c in "First Citizen:\nBefore we proceed any further"[: args.block]])
    if plot_attention(model, ids, chars, Path(args.plot)):
        print(f"Attention weights of one head saved to {args.plot}")


if __name__ == "__main__":
    main()
