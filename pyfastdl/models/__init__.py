"""The course's models, built only from pyfastdl's public API: the MNIST MLP, the three CIFAR
models (MLP, LeNet, VGG), the sentiment classifiers (recurrent and BERT-style, with
``predict_sentiment``) and a sequence-to-sequence transformer with greedy decoding.

Example:
    >>> from pyfastdl.models import MnistMLP
    >>> MnistMLP().layers[1].weight.shape
    (64, 784)
"""

from .cifar import CifarLeNet, CifarMLP, CifarVGG
from .mlp import MnistMLP
from .sentiment import BertClassifier, SentimentRNN, predict_sentiment
from .seq2seq import Seq2SeqTransformer

__all__ = [
    "BertClassifier",
    "CifarLeNet",
    "CifarMLP",
    "CifarVGG",
    "MnistMLP",
    "Seq2SeqTransformer",
    "SentimentRNN",
    "predict_sentiment",
]
