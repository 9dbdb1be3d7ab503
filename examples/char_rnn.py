"""A character-level language model that writes Shakespeare-shaped text: Embedding -> LSTM -> Linear.

The corpus is tiny shakespeare (1.1 M characters, shipped with MiniTorch: mt.datasets.load_text);
the first 90 % trains, the last 10 % is held out. The model reads characters and predicts the next
one at every position; its loss is the cross-entropy in nats per character, printed beside the
baseline of a bigram model (next-character counts from the training text, add-one smoothed).

The lesson is the model's hand-written ``backward`` (the chain rule through three layers) and
truncated backprop through time: the text is cut into N parallel streams read T characters at a
time, and each batch starts from the state (h_n, c_n) the previous batch ended with. That state
is a constant input to the LSTM, so the gradient stops at the batch boundary by construction.
Adam, gradient clipping (global norm 5), then samples with a temperature.

Run: python examples/char_rnn.py [--seed 0] [--steps 3000] [--time-limit 95] [--hidden 128] ...
Its last line reads ``Held-out loss: 1.234 nats/char (bigram baseline: 2.456)``.
"""

from __future__ import annotations

import os

# Small matrices inside a Python loop over time: one BLAS thread is faster than several (much
# faster on a busy machine). Must happen before NumPy is first imported; the environment wins.
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
import contextlib  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import minitorch as mt  # noqa: E402

no_grad = getattr(mt, "no_grad", contextlib.nullcontext)  # inference without caches, where it exists


class CharLSTM(mt.Module):
    """ids (T, N) -> logits (T, N, V): Embedding(V, E) -> LSTM(E, H, layers) -> Linear(H, V).

    Forward:  x = embed(ids)                      (T, N, E)
              out, state = lstm(x, state)         (T, N, H), ((layers, N, H), (layers, N, H))
              logits = head(out)                  (T, N, V)
    Backward: dout = head.backward(dlogits)       (T, N, H)   accumulates head.W, head.b
              dx, (dh0, dc0) = lstm.backward((dout, dstate))  accumulates every LSTM weight
                                                  (dstate: the gradient of the returned state, if any)
              embed.backward(dx)                  None         accumulates embed.weight (ids: no gradient)
              returns None, or (None, (dh0, dc0)) for a carried state: a constant input to this
              batch, so its gradient is returned and dropped; nothing flows into the previous batch
    """

    def __init__(self, vocab_size: int, embedding_dim: int, hidden_size: int, num_layers: int = 1) -> None:
        super().__init__()
        self.embed = mt.Embedding(vocab_size, embedding_dim)
        self.lstm = mt.LSTM(embedding_dim, hidden_size, num_layers)
        self.head = mt.Linear(hidden_size, vocab_size)

    def forward(self, ids: np.ndarray, state: tuple | None = None) -> tuple[np.ndarray, tuple]:
        x = self.embed(ids)
        out, state = self.lstm(x, state)
        return self.head(out), state

    def backward(self, grad: np.ndarray | tuple) -> tuple | None:
        """``grad`` = dlogits, or (dlogits, (dh_n, dc_n)) in the outputs' structure (CONTRACT §4).

        Returns None (the ids have no gradient), or (None, (dh0, dc0)) when a state was passed in:
        the training loop drops (dh0, dc0), which is where truncated BPTT stops.
        """
        dlogits, dstate = grad if isinstance(grad, tuple) else (grad, None)
        dout = self.head.backward(dlogits)
        grads = self.lstm.backward((dout, dstate))  # dx, or (dx, (dh0, dc0)) when a state was passed
        if not isinstance(grads, tuple):
            return self.embed.backward(grads)
        dx, dstate0 = grads
        return self.embed.backward(dx), dstate0


def streams(ids: np.ndarray, n: int) -> np.ndarray:
    """The text as n parallel streams, (n, L): stream k continues where it left off each batch."""
    length = len(ids) // n
    return ids[: n * length].reshape(n, length)


def batches(data: np.ndarray, seq_len: int):
    """(inputs, targets), each (T, N) time-major: T characters of every stream and the next ones."""
    for start in range(0, data.shape[1] - 1 - seq_len + 1, seq_len):
        chunk = data[:, start : start + seq_len + 1].T
        yield chunk[:-1], chunk[1:]


def bigram_loss(train: np.ndarray, test: np.ndarray, vocab_size: int) -> float:
    """Cross-entropy (nats/char) on ``test`` of add-one smoothed bigram counts from ``train``."""
    counts = np.ones((vocab_size, vocab_size))
    np.add.at(counts, (train[:-1], train[1:]), 1)
    log_p = np.log(counts / counts.sum(axis=1, keepdims=True))
    return float(-log_p[test[:-1], test[1:]].mean())


def evaluate(model: CharLSTM, data: np.ndarray, seq_len: int, loss_fn: mt.Loss) -> float:
    """Mean cross-entropy over every position of the streams ``data``, the state carried along."""
    state, total, count = None, 0.0, 0
    model.eval()
    with no_grad():
        for x, y in batches(data, seq_len):
            logits, state = model(x, state)
            total += loss_fn(logits.reshape(-1, logits.shape[-1]), y.reshape(-1)) * y.size
            count += y.size
    model.train()
    return total / count


def sample(model: CharLSTM, vocab: list[str], prompt: str, length: int, temperature: float,
           rng: np.random.Generator) -> str:
    """Feed ``prompt``, then draw ``length`` characters from softmax(logits / temperature)."""
    index = {ch: i for i, ch in enumerate(vocab)}
    model.eval()
    with no_grad():
        logits, state = model(np.array([[index[ch]] for ch in prompt]))
        out = list(prompt)
        for _ in range(length):
            z = logits[-1, 0] / temperature
            p = np.exp(z - z.max())
            next_id = rng.choice(len(vocab), p=p / p.sum())
            out.append(vocab[next_id])
            logits, state = model(np.array([[next_id]]), state)
    model.train()
    return "".join(out)


def main(seed: int = 0, steps: int = 3000, time_limit: float = 95.0, hidden: int = 128,
         embedding: int = 32, layers: int = 1, seq_len: int = 64, batch_size: int = 32,
         lr: float = 3e-3, clip: float = 5.0, print_every: int = 100, temperature: float = 0.8,
         sample_length: int = 500, text_chars: int | None = None) -> float:
    start = time.perf_counter()
    mt.manual_seed(seed)
    text = mt.datasets.load_text("shakespeare")[:text_chars]
    vocab = sorted(set(text))
    index = {ch: i for i, ch in enumerate(vocab)}
    ids = np.array([index[ch] for ch in text], dtype=np.int64)
    split = int(0.9 * len(ids))
    train, held_out = ids[:split], ids[split:]
    baseline = bigram_loss(train, held_out, len(vocab))
    print(f"{len(text):,} characters, {len(vocab)} distinct; train {len(train):,}, held out "
          f"{len(held_out):,}; bigram baseline {baseline:.3f} nats/char")

    model = CharLSTM(len(vocab), embedding, hidden, layers)
    loss_fn = mt.CrossEntropyLoss()
    optimizer = mt.Adam(model.parameters(), lr=lr)
    train_streams = streams(train, batch_size)
    check_streams = streams(held_out[:20_000], batch_size)  # a quick held-out estimate while training
    step, recent, state = 0, [], None
    while step < steps and time.perf_counter() - start < time_limit:
        for x, y in batches(train_streams, seq_len):
            logits, state = model(x, state)  # state: the previous batch's (h_n, c_n), a constant
            loss = loss_fn(logits.reshape(-1, len(vocab)), y.reshape(-1))
            model.zero_grad()
            model.backward(loss_fn.backward().reshape(logits.shape))
            mt.clip_grad_norm_(model.parameters(), clip)
            optimizer.step()
            step, recent = step + 1, (recent + [loss])[-print_every:]
            if step % print_every == 0:
                check = evaluate(model, check_streams, seq_len, loss_fn)
                print(f"step {step:5d}  train {np.mean(recent):.3f}  held-out {check:.3f} nats/char  "
                      f"(bigram {baseline:.3f})  {time.perf_counter() - start:5.1f} s")
            if step >= steps or time.perf_counter() - start >= time_limit:
                break
        state = None  # a new pass over the text starts from a zero state

    held = evaluate(model, streams(held_out, batch_size), seq_len, loss_fn)
    print(f"trained {step} steps ({step * seq_len * batch_size:,} characters) in "
          f"{time.perf_counter() - start:.1f} s; train loss {np.mean(recent):.3f} nats/char")
    print(f"--- sample (temperature {temperature}) ---")
    print(sample(model, vocab, "ROMEO:\n", sample_length, temperature, np.random.default_rng(seed)))
    print("---")
    print(f"Held-out loss: {held:.3f} nats/char (bigram baseline: {baseline:.3f})")
    return held


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=3000, help="training steps at most")
    parser.add_argument("--time-limit", type=float, default=95.0, help="seconds of training at most")
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--embedding", type=int, default=32)
    parser.add_argument("--layers", type=int, default=1)
    parser.add_argument("--seq-len", type=int, default=64, help="T: characters per stream per batch")
    parser.add_argument("--batch-size", type=int, default=32, help="N: parallel streams")
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--clip", type=float, default=5.0, help="max global gradient norm")
    parser.add_argument("--print-every", type=int, default=100)
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--sample-length", type=int, default=500)
    parser.add_argument("--text-chars", type=int, default=None, help="only the first characters")
    args = parser.parse_args()
    main(**{k.replace("-", "_"): v for k, v in vars(args).items()})
