"""A word-level LSTM language model's training step: pyfastdl against PyTorch, side by side.

The model of pytorch/examples' word_language_model (embedding -> LSTM -> linear decoder over the
vocabulary, cross-entropy, plain SGD), at small batches where per-op overhead, thread wake-ups and
the optimizer's pass over the embedding and decoder weights weigh as much as the products.
Each round runs one step of each library in turn, 20 ms apart; the figures are medians (and the
90th percentile) over rounds, at 1 and at 2 threads for both libraries.

    python benchmarks/bench_word_lm.py                                  # the configurations below
    python benchmarks/bench_word_lm.py --vocab 33278 --emsize 200 --nhid 200 --bptt 35 --batch 20
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import pyfastdl as fd
from pyfastdl import nn

# (vocab, emsize, nhid, layers, bptt, batch): a small model, the example's sizes at batch 1 on a
# 10k vocabulary, and the example's defaults on WikiText-2's vocabulary.
CONFIGS = [(1000, 64, 128, 2, 16, 4), (10000, 200, 200, 2, 35, 1), (33278, 200, 200, 2, 35, 20)]


def model(nn_module, vocab: int, emsize: int, nhid: int, layers: int):
    class WordLM(nn_module.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = nn_module.Embedding(vocab, emsize)
            self.rnn = nn_module.LSTM(emsize, nhid, layers)
            self.decoder = nn_module.Linear(nhid, vocab)

        def forward(self, x):
            out, _ = self.rnn(self.encoder(x))
            return self.decoder(out)

    return WordLM()


def step_fn(lib: str, cfg: tuple, x: np.ndarray, y: np.ndarray):
    vocab, emsize, nhid, layers, _, _ = cfg
    if lib == "pyfastdl":
        m, opt_cls, tensor, loss = (
            model(nn, vocab, emsize, nhid, layers),
            fd.optim.SGD,
            fd.tensor,
            nn.CrossEntropyLoss(),
        )
    else:
        m, opt_cls, tensor, loss = (
            model(torch.nn, vocab, emsize, nhid, layers),
            torch.optim.SGD,
            torch.tensor,
            torch.nn.CrossEntropyLoss(),
        )
    opt = opt_cls(m.parameters(), lr=0.1)
    xt, yt = tensor(x), tensor(y)

    def step() -> None:
        opt.zero_grad()
        loss(m(xt).reshape(-1, vocab), yt).backward()
        opt.step()

    return step


def run(cfg: tuple, rounds: int) -> None:
    vocab, _, _, _, bptt, batch = cfg
    rng = np.random.default_rng(0)
    x = rng.integers(0, vocab, (bptt, batch))
    y = rng.integers(0, vocab, (bptt * batch,))
    for threads in (1, 2):
        fd.set_num_threads(threads)
        torch.set_num_threads(threads)
        steps = {lib: step_fn(lib, cfg, x, y) for lib in ("pyfastdl", "torch")}
        for s in steps.values():
            for _ in range(3):
                s()
        times: dict[str, list[float]] = {k: [] for k in steps}
        for _ in range(rounds):
            for k, s in steps.items():
                t0 = time.perf_counter()
                s()
                times[k].append(time.perf_counter() - t0)
                time.sleep(0.02)
        med = {k: float(np.median(v)) for k, v in times.items()}
        p90 = {k: float(np.percentile(v, 90)) for k, v in times.items()}
        print(
            f"vocab {cfg[0]} emsize {cfg[1]} nhid {cfg[2]} layers {cfg[3]} bptt {bptt} batch "
            f"{batch}, {threads} thread(s): pyfastdl {med['pyfastdl'] * 1e3:.2f} ms (p90 "
            f"{p90['pyfastdl'] * 1e3:.2f}), PyTorch {med['torch'] * 1e3:.2f} ms (p90 "
            f"{p90['torch'] * 1e3:.2f}): {med['torch'] / med['pyfastdl']:.2f}x"
        )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for name, default in [
        ("vocab", None),
        ("emsize", 200),
        ("nhid", 200),
        ("layers", 2),
        ("bptt", 35),
        ("batch", 1),
    ]:
        p.add_argument(f"--{name}", type=int, default=default)
    p.add_argument("--rounds", type=int, default=30)
    args = p.parse_args()
    configs = (
        CONFIGS
        if args.vocab is None
        else [(args.vocab, args.emsize, args.nhid, args.layers, args.bptt, args.batch)]
    )
    for cfg in configs:
        run(cfg, args.rounds)


if __name__ == "__main__":
    main()
