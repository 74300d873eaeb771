"""The course's models, built only from pyfastdl's public API: the MNIST MLP, the three CIFAR
models (MLP, LeNet, VGG), the sentiment classifiers (recurrent and BERT-style, with
``predict_sentiment``) and a sequence-to-sequence transformer with greedy decoding.

Example:
    >>> from pyfastdl.models import MnistMLP
    >>> MnistMLP().layers[1].weight.shape
    (64, 784)
"""

from .autoencoder import ConvAutoencoder, MLPAutoencoder, reconstruction_error
from .cifar import CifarLeNet, CifarMLP, CifarVGG
from .dqn import QNetworkCNN, QNetworkMLP
from .flow import (
    AffineCoupling,
    LogitTransform,
    RealNVP,
    bits_per_dim,
    checkerboard_mask,
    dequantize,
)
from .gan import DCGANDiscriminator, DCGANGenerator, Discriminator1d, Generator1d
from .mlp import MnistMLP
from .resnet import BasicBlock, Bottleneck, ResNet, resnet18, resnet34, resnet50, resnet_small
from .sentiment import BertClassifier, SentimentRNN, predict_sentiment
from .seq2seq import Seq2SeqTransformer
from .unet import UNet
from .vae import VAE, ConvVAE

__all__ = [
    "AffineCoupling",
    "BasicBlock",
    "BertClassifier",
    "Bottleneck",
    "CifarLeNet",
    "CifarMLP",
    "CifarVGG",
    "ConvAutoencoder",
    "ConvVAE",
    "DCGANDiscriminator",
    "DCGANGenerator",
    "Discriminator1d",
    "Generator1d",
    "LogitTransform",
    "MLPAutoencoder",
    "MnistMLP",
    "QNetworkCNN",
    "QNetworkMLP",
    "RealNVP",
    "ResNet",
    "Seq2SeqTransformer",
    "SentimentRNN",
    "UNet",
    "VAE",
    "bits_per_dim",
    "checkerboard_mask",
    "dequantize",
    "predict_sentiment",
    "reconstruction_error",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet_small",
]
