"""Datasets: embedded digits and colour images (rendered, no download), MNIST / Fashion-MNIST from
IDX files, CIFAR-10 from its batch files, image transforms (``pyfastdl.data.transforms``), the text
pipeline (``pyfastdl.data.text``), the embedded sentiment corpus (``pyfastdl.data.sentiment``),
toy translation tasks for sequence-to-sequence models (``pyfastdl.data.translation``), toy 2-D
point sets (``make_moons``, ``make_rings``, ... in ``pyfastdl.data.toy2d``) and segmentation sets:
the embedded overlapping shapes and image/mask folders (``pyfastdl.data.segmentation``).

Example:
    >>> from pyfastdl.data import EmbeddedDigits
    >>> from pyfastdl.utils.data import DataLoader
    >>> loader = DataLoader(EmbeddedDigits(train=False), batch_size=64)
    >>> images, labels = next(iter(loader))
    >>> images.shape, labels.dtype.name
    ((64, 1, 28, 28), 'int64')
"""

from . import text, transforms
from .cifar import (
    CIFAR10,
    EMBEDDED_CLASSES,
    EmbeddedCifar,
    load_cifar_like,
    read_cifar_batch,
    render_cifar_like,
)
from .datasets import MNIST, EmbeddedDigits, FashionMNIST
from .digits import load_digits, render_digits
from .idx import read_idx, write_idx
from .segmentation import SHAPE_CLASSES, EmbeddedShapes, SegmentationFolder, render_shapes
from .sentiment import SENTIMENT_CLASSES, SentimentCorpus, load_sentiment
from .text import Vocab, pad_batch, pad_to, tokenize
from .toy2d import make_circles, make_gaussian_mixture, make_moons, make_rings
from .translation import ToyTranslation, TranslationBatch, collate_translation, exact_match

__all__ = [
    "CIFAR10",
    "EMBEDDED_CLASSES",
    "MNIST",
    "SENTIMENT_CLASSES",
    "SHAPE_CLASSES",
    "EmbeddedCifar",
    "EmbeddedDigits",
    "EmbeddedShapes",
    "FashionMNIST",
    "SegmentationFolder",
    "SentimentCorpus",
    "ToyTranslation",
    "TranslationBatch",
    "Vocab",
    "collate_translation",
    "exact_match",
    "load_cifar_like",
    "load_digits",
    "load_sentiment",
    "make_circles",
    "make_gaussian_mixture",
    "make_moons",
    "make_rings",
    "pad_batch",
    "pad_to",
    "read_cifar_batch",
    "read_idx",
    "render_cifar_like",
    "render_digits",
    "render_shapes",
    "text",
    "tokenize",
    "transforms",
    "write_idx",
]
