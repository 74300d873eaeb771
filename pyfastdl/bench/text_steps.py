"""Training steps of the text models: the BERT-style transformer encoder classifier and the LSTM
sentiment classifier of ``pyfastdl.models``, against PyTorch twins started from the same weights.

A step: forward on one batch of token ids, loss, ``zero_grad``, backward, ``Adam.step``. The
batch is full length (no padding; the first id plays ``[CLS]``), so both libraries run the same
arithmetic whatever their padding strategies.

The twins are built from ``torch.nn`` with the pyfastdl model's submodule names and sizes, so
PyTorch's seeded initial state dict loads into the pyfastdl model (the names are the contract:
``token_embedding``, ``position_embedding``, ``segment_embedding``, ``embedding_norm``,
``embedding_dropout``, ``encoder``, ``classifier`` for the transformer; ``embedding``, ``rnn``,
``dropout``, ``fc`` for the LSTM). Their forwards restate the pyfastdl models' documented math:

    transformer: logits = classifier(encoder(dropout(LayerNorm(tok(ids) + pos(0..L-1) + seg(0))),
                 src_key_padding_mask = ids == padding_idx)[:, 0])
    LSTM:        out = LSTM(embedding(ids)); logit = fc(dropout([out[:, L-1, :h], out[:, 0, h:]]))

The first steps are compared with both models in eval mode (no dropout: each library draws its
own masks; with gradients on, PyTorch's encoder takes its ordinary path, not the inference fast
path), then both are timed in training mode (dropout on). The compiled peers of the other
training steps (``peers``: ``torch.compile``, JAX) are not run here: no JAX transformer or LSTM
is written, and torch.compile alone would need Adam's state reset after its timed first call;
with ``--peers auto`` the rows say so.

FLOPs per step (the % peak column): the matmuls only, forward x 3 (forward, input and weight
gradients). Transformer, per layer and token: QKV and output projections 4 d^2, feed-forward
2 d f, attention 2 L d (scores and weighted sum), plus the classifier; LSTM: per direction and
token 4 h (e + h) for the gates.

Example:
    >>> from pyfastdl.bench.text_steps import TransformerCase
    >>> TransformerCase().name
    'train transformer 2L d128 h4 ff512 L128 batch 32 Adam'
    >>> round(TransformerCase().flops_per_step / 1e9, 1)
    11.3
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

import pyfastdl as fd
from pyfastdl import models, nn, optim

from .config import Config
from .results import SELF, Row
from .steps import check_steps, step_fn
from .threads import torch_module
from .timing import Contender, measure


@dataclass(frozen=True)
class TransformerCase:
    """``models.BertClassifier`` (post-norm GELU encoder, [CLS] pooling), 2 classes, Adam."""

    num_layers: int = 2
    d_model: int = 128
    nhead: int = 4
    dim_feedforward: int = 512
    seq_len: int = 128
    batch: int = 32
    vocab_size: int = 2000
    lr: float = 1e-3
    max_rounds: int | None = None

    @property
    def name(self) -> str:
        return (
            f"train transformer {self.num_layers}L d{self.d_model} h{self.nhead} "
            f"ff{self.dim_feedforward} L{self.seq_len} batch {self.batch} Adam"
        )

    @property
    def flops_per_step(self) -> float:
        d, f, length = self.d_model, self.dim_feedforward, self.seq_len
        per_token = self.num_layers * (4 * d * d + 2 * d * f + 2 * length * d)
        forward = 2.0 * self.batch * length * per_token + 2.0 * self.batch * d * 2
        return 3 * forward

    def build(self) -> Any:
        """The pyfastdl model (AttributeError / ImportError while its layers are missing)."""
        return models.BertClassifier(
            self.vocab_size,
            d_model=self.d_model,
            nhead=self.nhead,
            num_layers=self.num_layers,
            dim_feedforward=self.dim_feedforward,
            max_len=self.seq_len,
        )

    def twin(self, model: Any, torch: Any) -> Any:
        return transformer_twin(model, torch)

    def batch_arrays(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        ids = rng.integers(4, self.vocab_size, size=(self.batch, self.seq_len)).astype(np.int64)
        ids[:, 0] = 2  # the [CLS] slot
        return ids, rng.integers(0, 2, size=self.batch).astype(np.int64)

    def loss(self, nn: Any) -> Any:
        return nn.CrossEntropyLoss()

    def probe(self, model: Any) -> Any:
        """The parameter compared after the first steps."""
        return model.classifier.weight


@dataclass(frozen=True)
class LstmCase:
    """``models.SentimentRNN`` (bidirectional LSTM, final states → Linear → 1 logit),
    ``BCEWithLogitsLoss``, Adam."""

    embedding_dim: int = 64
    hidden_size: int = 128
    seq_len: int = 64
    batch: int = 64
    vocab_size: int = 2000
    lr: float = 1e-3
    max_rounds: int | None = 7  # a step is about a second on 2 cores

    @property
    def name(self) -> str:
        return (
            f"train LSTM sentiment e{self.embedding_dim} h{self.hidden_size} bidir "
            f"L{self.seq_len} batch {self.batch} Adam"
        )

    @property
    def flops_per_step(self) -> float:
        e, h = self.embedding_dim, self.hidden_size
        forward = 2.0 * 2 * self.batch * self.seq_len * 4 * h * (e + h) + 2.0 * self.batch * 2 * h
        return 3 * forward

    def build(self) -> Any:
        return models.SentimentRNN(
            self.vocab_size, embedding_dim=self.embedding_dim, hidden_size=self.hidden_size
        )

    def twin(self, model: Any, torch: Any) -> Any:
        return lstm_twin(model, torch)

    def batch_arrays(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        ids = rng.integers(4, self.vocab_size, size=(self.batch, self.seq_len)).astype(np.int64)
        return ids, rng.integers(0, 2, size=self.batch).astype(np.float32)

    def loss(self, nn: Any) -> Any:
        return nn.BCEWithLogitsLoss()

    def probe(self, model: Any) -> Any:
        return model.fc.weight


TextCase = TransformerCase | LstmCase


def default_cases(quick: bool) -> list[TextCase]:
    """The transformer step (both runs) and the LSTM step (the full run only)."""
    return [TransformerCase()] + ([] if quick else [LstmCase()])


def transformer_twin(model: Any, torch: Any) -> Any:
    """A ``torch.nn`` BertClassifier with the pyfastdl model's names and sizes."""
    tnn = torch.nn
    tok, pos, seg = model.token_embedding, model.position_embedding, model.segment_embedding
    first = model.encoder.layers[0]
    d = tok.embedding_dim

    class Twin(tnn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.padding_idx = tok.padding_idx
            self.token_embedding = tnn.Embedding(tok.num_embeddings, d, padding_idx=tok.padding_idx)
            self.position_embedding = tnn.Embedding(pos.num_embeddings, d)
            self.segment_embedding = tnn.Embedding(seg.num_embeddings, d)
            self.embedding_norm = tnn.LayerNorm(d, eps=model.embedding_norm.eps)
            self.embedding_dropout = tnn.Dropout(model.embedding_dropout.p)
            layer = tnn.TransformerEncoderLayer(
                d,
                first.self_attn.num_heads,
                first.linear1.out_features,
                first.dropout.p,
                activation="gelu",
                layer_norm_eps=first.norm1.eps,
                batch_first=True,
                norm_first=bool(getattr(first, "norm_first", False)),
            )
            self.encoder = tnn.TransformerEncoder(
                layer, len(model.encoder.layers), enable_nested_tensor=False
            )
            self.classifier = tnn.Linear(d, model.classifier.out_features)

        def forward(self, ids: Any) -> Any:
            n, length = ids.shape
            x = (
                self.token_embedding(ids)
                + self.position_embedding(torch.arange(length))
                + self.segment_embedding(torch.zeros_like(ids))
            )
            x = self.embedding_dropout(self.embedding_norm(x))
            mask = ids == (-1 if self.padding_idx is None else self.padding_idx)
            return self.classifier(self.encoder(x, src_key_padding_mask=mask)[:, 0])

    return Twin()


def lstm_twin(model: Any, torch: Any) -> Any:
    """A ``torch.nn`` SentimentRNN (LSTM cell) with the pyfastdl model's names and sizes; its
    forward reads full-length batches (no padding)."""
    tnn = torch.nn
    emb, rnn = model.embedding, model.rnn

    class Twin(tnn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embedding = tnn.Embedding(
                emb.num_embeddings, emb.embedding_dim, padding_idx=emb.padding_idx
            )
            self.rnn = tnn.LSTM(
                rnn.input_size,
                rnn.hidden_size,
                rnn.num_layers,
                batch_first=True,
                dropout=rnn.dropout,
                bidirectional=rnn.bidirectional,
            )
            self.dropout = tnn.Dropout(model.dropout.p)
            self.fc = tnn.Linear(model.fc.in_features, 1)

        def forward(self, ids: Any) -> Any:
            out = self.rnn(self.embedding(ids))[0]
            h = self.rnn.hidden_size
            if self.rnn.bidirectional:
                features = torch.cat([out[:, -1, :h], out[:, 0, h:]], dim=1)
            else:
                features = out[:, -1]
            return self.fc(self.dropout(features)).squeeze(-1)

    return Twin()


def run_case(
    case: TextCase,
    config: Config,
    rng: np.random.Generator,
    on_round: Callable[[], None] | None = None,
) -> Row:
    """Same initial weights (PyTorch's seeded init) and batch; three steps compared in eval
    mode; then both timed interleaved in training mode."""

    row = Row("train", case.name, unit="ms", flops=case.flops_per_step)
    row.notes["batch"] = case.batch
    if config.peers != "none":
        why = "unavailable: no compiled peers for the text models (no JAX transformer or LSTM here)"
        row.notes["peers_unavailable"] = {"torch.compile": why, "jax": why}
    ids, labels = case.batch_arrays(rng)
    try:
        ours = case.build()
    except (ImportError, AttributeError) as exc:
        row.status = f"unavailable: pyfastdl model ({type(exc).__name__}: {exc})"
        return row
    models: dict[str, Any] = {SELF: ours}
    steps: dict[str, tuple[Callable, Callable]] = {}
    torch = torch_module()
    if torch is not None:
        torch.manual_seed(config.seed)
        twin = case.twin(ours, torch)
        ours.load_state_dict(twin.state_dict())
        opt = torch.optim.Adam(twin.parameters(), lr=case.lr)
        probe = case.probe(twin)
        steps["torch"] = (
            step_fn(
                twin, case.loss(torch.nn), opt, torch.from_numpy(ids), torch.from_numpy(labels)
            ),
            lambda: probe.detach().numpy().copy(),
        )
        models["torch"] = twin
    probe_ours = case.probe(ours)
    opt_ours = optim.Adam(ours.parameters(), lr=case.lr)
    step_ours = step_fn(ours, case.loss(nn), opt_ours, fd.tensor(ids), fd.tensor(labels))
    steps = {SELF: (step_ours, lambda: np.array(probe_ours.array)), **steps}
    for m in models.values():
        m.eval()
    if len(steps) > 1:
        row.status = check_steps(steps, n_steps=3, rtol=1e-3, atol=1e-4)
    for m in models.values():
        m.train()
    rounds = min(config.rounds, case.max_rounds or config.rounds)
    cs = [Contender(name, step) for name, (step, _) in steps.items()]
    row.fill(measure(cs, rounds, config.target_s, config.pause_s, on_round, config.case_budget_s))
    return row
