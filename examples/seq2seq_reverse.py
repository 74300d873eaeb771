"""Train a sequence-to-sequence transformer to reverse sequences, scored by greedy decoding.

``ToyTranslation("reverse")``: sources of 3 to 10 symbols out of 10, targets
``[BOS] reversed source [EOS]``; the test split shares no source with the training split.
(Sources of 1 or 2 symbols are few — 10 and 100 — and the test split's are ones the model
never saw at that length; it tends to get those wrong, hence ``--min-len 3`` by default.)
``Seq2SeqTransformer`` (2 encoder + 2 decoder layers, d_model 64, 4 heads) is trained with
teacher forcing (cross-entropy, padding ignored, Adam, the learning rate decaying along a
cosine); after each epoch the test sources are decoded greedily and the exact-match accuracy
(the whole sequence and its EOS right) printed.
``--task sort`` or ``--task copy`` trains the other toy tasks.

    python examples/seq2seq_reverse.py                   # 6 epochs: 99.6-99.8 % exact match
    python examples/seq2seq_reverse.py --task sort --max-len 8
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from tqdm import tqdm

import pyfastdl as fd
from pyfastdl import nn
from pyfastdl.data import ToyTranslation, collate_translation, exact_match
from pyfastdl.data.text import PAD_INDEX
from pyfastdl.io import save
from pyfastdl.models import Seq2SeqTransformer
from pyfastdl.optim import Adam
from pyfastdl.optim.lr_scheduler import CosineAnnealingLR
from pyfastdl.utils.data import DataLoader


def evaluate(model: Seq2SeqTransformer, loader: DataLoader, max_len: int) -> float:
    """Exact-match accuracy of greedy decoding over the loader's batches (eval mode)."""
    was_training = model.training
    model.eval()
    hits = total = 0
    try:
        for batch in loader:
            predicted = model.greedy_decode(batch.src, max_len=max_len + 1)
            n = batch.src.shape[0]
            hits += round(exact_match(predicted, batch.tgt) * n)
            total += n
    finally:
        model.train(was_training)
    return hits / max(total, 1)


def show(model: Seq2SeqTransformer, dataset: ToyTranslation, count: int = 3) -> None:
    """Prints a few test sources and their greedy translations."""
    batch = collate_translation([dataset[i] for i in range(count)])
    model.eval()
    predicted = model.greedy_decode(batch.src, max_len=dataset.max_len + 1)
    for src, out in zip(batch.src.tolist(), predicted.tolist(), strict=True):
        print(f"  {dataset.vocab.decode(src):<22} -> {dataset.vocab.decode(out)}")


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", choices=("reverse", "sort", "copy"), default="reverse")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--train-size", type=int, default=5000)
    parser.add_argument("--test-size", type=int, default=500)
    parser.add_argument("--min-len", type=int, default=3)
    parser.add_argument("--max-len", type=int, default=10, help="longest source")
    parser.add_argument("--num-symbols", type=int, default=10)
    parser.add_argument("--d-model", type=int, default=64)
    parser.add_argument("--nhead", type=int, default=4)
    parser.add_argument("--num-layers", type=int, default=2, help="encoder and decoder layers")
    parser.add_argument("--dim-feedforward", type=int, default=128)
    parser.add_argument("--dropout", type=float, default=0.0)
    parser.add_argument("--save", metavar="PATH", help="write the trained state dict here")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet", action="store_true", help="no progress bar, no examples")
    args = parser.parse_args(argv)

    fd.manual_seed(args.seed)
    sizes = dict(min_len=args.min_len, max_len=args.max_len, num_symbols=args.num_symbols)
    train_set = ToyTranslation(args.task, "train", args.train_size, seed=args.seed, **sizes)
    test_set = ToyTranslation(args.task, "test", args.test_size, seed=args.seed, **sizes)
    generator = fd.Generator().manual_seed(args.seed)
    # each batch is a TranslationBatch: padded sources and targets with their masks
    train_loader = DataLoader(
        train_set, batch_size=args.batch_size, shuffle=True, generator=generator
    )
    test_loader = DataLoader(test_set, batch_size=250)

    vocab_size = train_set.vocab_size
    model = Seq2SeqTransformer(
        vocab_size,
        vocab_size,
        d_model=args.d_model,
        nhead=args.nhead,
        num_encoder_layers=args.num_layers,
        num_decoder_layers=args.num_layers,
        dim_feedforward=args.dim_feedforward,
        dropout=args.dropout,
        max_len=args.max_len + 2,
    )
    n_params = sum(p.numel() for p in model.parameters())
    print(
        f"{type(model).__name__}: {n_params:,} parameters; task {args.task!r}, "
        f"{len(train_set)} training and {len(test_set)} test sequences"
    )
    criterion = nn.CrossEntropyLoss(ignore_index=PAD_INDEX)
    optimizer = Adam(model.parameters(), lr=args.lr)
    # the learning rate decays to 0 along a cosine, batch by batch: late steps stay small
    scheduler = CosineAnnealingLR(optimizer, T_max=args.epochs * len(train_loader))

    accuracy = 0.0
    for epoch in range(1, args.epochs + 1):
        losses, start = [], time.perf_counter()
        bar = tqdm(
            train_loader, desc=f"epoch {epoch}/{args.epochs}", leave=False, disable=args.quiet
        )
        for batch in bar:
            logits = model(batch.src, batch.tgt_input)
            loss = criterion(logits.reshape(-1, vocab_size), batch.tgt_output.reshape(-1))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            losses.append(loss.item())
            bar.set_postfix(loss=f"{losses[-1]:.4f}", refresh=False)
        seconds = time.perf_counter() - start
        accuracy = evaluate(model, test_loader, args.max_len)
        print(
            f"epoch {epoch:2d}: train loss {np.mean(losses):.4f}, test exact match "
            f"{100 * accuracy:.2f}% ({seconds:.1f} s)"
        )
    if not args.quiet:
        show(model, test_set)
    if args.save:
        save(model.state_dict(), args.save)
        print(f"saved the state dict to {args.save}")
    return accuracy


if __name__ == "__main__":
    main()
