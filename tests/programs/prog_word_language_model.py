"""pytorch/examples word_language_model (model.py's RNNModel, main.py's training loop).

The model is the example's RNNModel (Embedding encoder, LSTM, Dropout, Linear decoder with the
tied weights of ``--tied``, ``init_weights``' uniform init, log_softmax output); the loop is
main.py's: ``batchify``, ``get_batch`` over bptt windows, ``repackage_hidden`` (detach),
NLLLoss, ``clip_grad_norm_`` and the hand-written SGD step ``p.data.add_(p.grad, alpha=-lr)``.
Reduced: a synthetic corpus of 50 tokens drawn from a sparse Markov chain (a fixed NumPy
generator) instead of Wikitext-2, emsize = nhid = 32, 2 layers, bptt 8, batch size 8, dropout
0.0 (the ``--dropout`` option, so that training is deterministic), 4 epochs over 3 streams
(a fresh hidden state per stream), no learning-rate annealing.
"""

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

NTOKENS = 50
EMSIZE = 32
NHID = 32
NLAYERS = 2
DROPOUT = 0.0
BPTT = 8
BATCH_SIZE = 8
EVAL_BATCH_SIZE = 4
LR = 20.0
CLIP = 0.25
EPOCHS = 4

STEPS_MATCH = True


class RNNModel(nn.Module):
    """Container module with an encoder, a recurrent module, and a decoder."""

    def __init__(self, rnn_type, ntoken, ninp, nhid, nlayers, dropout=0.5, tie_weights=False):
        super(RNNModel, self).__init__()
        self.ntoken = ntoken
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(ntoken, ninp)
        if rnn_type in ["LSTM", "GRU"]:
            self.rnn = getattr(nn, rnn_type)(ninp, nhid, nlayers, dropout=dropout)
        else:
            try:
                nonlinearity = {"RNN_TANH": "tanh", "RNN_RELU": "relu"}[rnn_type]
            except KeyError as e:
                raise ValueError(
                    "An invalid option for `--model` was supplied, "
                    "options are ['LSTM', 'GRU', 'RNN_TANH' or 'RNN_RELU']"
                ) from e
            self.rnn = nn.RNN(ninp, nhid, nlayers, nonlinearity=nonlinearity, dropout=dropout)
        self.decoder = nn.Linear(nhid, ntoken)

        # "Using the Output Embedding to Improve Language Models" (Press & Wolf 2016)
        if tie_weights:
            if nhid != ninp:
                raise ValueError("When using the tied flag, nhid must be equal to emsize")
            self.decoder.weight = self.encoder.weight

        self.init_weights()

        self.rnn_type = rnn_type
        self.nhid = nhid
        self.nlayers = nlayers

    def init_weights(self):
        initrange = 0.1
        nn.init.uniform_(self.encoder.weight, -initrange, initrange)
        nn.init.zeros_(self.decoder.bias)
        nn.init.uniform_(self.decoder.weight, -initrange, initrange)

    def forward(self, input, hidden):
        emb = self.drop(self.encoder(input))
        output, hidden = self.rnn(emb, hidden)
        output = self.drop(output)
        decoded = self.decoder(output)
        decoded = decoded.view(-1, self.ntoken)
        return F.log_softmax(decoded, dim=1), hidden

    def init_hidden(self, bsz):
        weight = next(self.parameters())
        if self.rnn_type == "LSTM":
            return (
                weight.new_zeros(self.nlayers, bsz, self.nhid),
                weight.new_zeros(self.nlayers, bsz, self.nhid),
            )
        else:
            return weight.new_zeros(self.nlayers, bsz, self.nhid)


criterion = nn.NLLLoss()


def batchify(data, bsz):
    # Work out how cleanly we can divide the dataset into bsz parts.
    nbatch = data.size(0) // bsz
    # Trim off any extra elements that wouldn't cleanly fit (remainders).
    data = data.narrow(0, 0, nbatch * bsz)
    # Evenly divide the data across the bsz batches.
    data = data.view(bsz, -1).t().contiguous()
    return data


def repackage_hidden(h):
    """Wraps hidden states in new Tensors, to detach them from their history."""
    if isinstance(h, torch.Tensor):
        return h.detach()
    else:
        return tuple(repackage_hidden(v) for v in h)


def get_batch(source, i):
    seq_len = min(BPTT, len(source) - 1 - i)
    data = source[i : i + seq_len]
    target = source[i + 1 : i + 1 + seq_len].view(-1)
    return data, target


def build_model():
    return RNNModel("LSTM", NTOKENS, EMSIZE, NHID, NLAYERS, DROPOUT, tie_weights=True)


def make_batches(seed):
    """Token streams (int64) of a Markov chain where each token has 3 likely successors."""
    rng = np.random.default_rng(seed)
    successors = rng.integers(0, NTOKENS, (NTOKENS, 3))
    batches = []
    for _ in range(3):
        stream = np.empty(BATCH_SIZE * BPTT * 6 + 1, dtype=np.int64)
        stream[0] = rng.integers(0, NTOKENS)
        for t in range(1, len(stream)):
            stream[t] = successors[stream[t - 1], rng.integers(0, 3)]
        batches.append(stream)
    return batches


def evaluate(model, batch):
    # Turn on evaluation mode which disables dropout.
    data_source = batchify(torch.from_numpy(batch), EVAL_BATCH_SIZE)
    model.eval()
    total_loss = 0.0
    hidden = model.init_hidden(EVAL_BATCH_SIZE)
    with torch.no_grad():
        for i in range(0, data_source.size(0) - 1, BPTT):
            data, targets = get_batch(data_source, i)
            output, hidden = model(data, hidden)
            hidden = repackage_hidden(hidden)
            total_loss += len(data) * criterion(output, targets).item()
    return total_loss / (len(data_source) - 1)


def train(model, batches):
    lr = LR
    losses = []
    for epoch in range(EPOCHS):
        for stream in batches:
            train_data = batchify(torch.from_numpy(stream), BATCH_SIZE)
            # Turn on training mode which enables dropout.
            model.train()
            hidden = model.init_hidden(BATCH_SIZE)
            for batch, i in enumerate(range(0, train_data.size(0) - 1, BPTT)):
                data, targets = get_batch(train_data, i)
                # Starting each batch, we detach the hidden state from how it was previously
                # produced. If we didn't, the model would try backpropagating all the way to
                # start of the dataset.
                model.zero_grad()
                hidden = repackage_hidden(hidden)
                output, hidden = model(data, hidden)
                loss = criterion(output, targets)
                loss.backward()

                # `clip_grad_norm` helps prevent the exploding gradient problem in RNNs / LSTMs.
                torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
                for p in model.parameters():
                    p.data.add_(p.grad, alpha=-lr)

                losses.append(loss.item())
    return losses
