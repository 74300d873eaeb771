"""MultiheadAttention: PyTorch's ``nn.MultiheadAttention`` over the fused attention kernel.

attn_output = out_proj(concat_h softmax(Q_h K_h^T / sqrt(d) + mask) V_h), with Q, K, V the
input projections (one (3E, E) ``in_proj_weight`` when kdim = vdim = embed_dim, else
``q_proj_weight`` / ``k_proj_weight`` / ``v_proj_weight``). Parameter names, init and state-dict
keys are PyTorch's. With ``need_weights=False`` the fused kernel runs (memory linear in the
sequence lengths; self-attention is one gemm for Q, K and V, heads are strided views of it);
``need_weights=True`` (the default, as in PyTorch) computes the weights explicitly.

Example:
    >>> import pyfastdl as fd
    >>> from pyfastdl import nn
    >>> mha = nn.MultiheadAttention(16, 4, batch_first=True)
    >>> x = fd.randn(2, 5, 16)
    >>> out, w = mha(x, x, x)
    >>> out.shape, w.shape
    ((2, 5, 16), (2, 5, 5))
"""

from __future__ import annotations

from typing import Any

from .. import functional as F
from .. import init
from ..parameter import Parameter
from ._checks import empty, probability, size_arg
from .linear import Linear
from .module import Module

__all__ = ["MultiheadAttention"]


class NonDynamicallyQuantizableLinear(Linear):
    """A Linear under PyTorch's name for MultiheadAttention's out_proj (same repr, same keys)."""


class MultiheadAttention(Module):
    """Multi-head attention with PyTorch's arguments, parameters and forward.

    forward(query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
    average_attn_weights=True, is_causal=False) -> (attn_output, attn_weights or None).
    Shapes: query (L, N, E) (or (N, L, E) with batch_first, or unbatched (L, E)), key (S, N,
    kdim), value (S, N, vdim). key_padding_mask (N, S) and attn_mask (L, S) or
    (N * num_heads, L, S): bool True = may NOT attend (MHA's convention), or float added to the
    scores. ``is_causal=True`` applies the causal mask (attn_mask may then be omitted); an
    attn_mask that is exactly the square subsequent mask is recognised and run as causal.
    A query whose keys are all masked gives zeros on the fused path (PyTorch: NaN). A float
    mask that requires grad gets its gradient (through the explicit path).
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        add_bias_kv: bool = False,
        add_zero_attn: bool = False,
        kdim: int | None = None,
        vdim: int | None = None,
        batch_first: bool = False,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        name = "MultiheadAttention"
        self.embed_dim = size_arg(embed_dim, "embed_dim", name)
        self.num_heads = size_arg(num_heads, "num_heads", name)
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(
                f"[{name}] embed_dim and num_heads must be greater than 0, got "
                f"embed_dim={embed_dim} and num_heads={num_heads}"
            )
        if embed_dim % num_heads:
            raise ValueError(
                f"[{name}] embed_dim must be divisible by num_heads, got embed_dim={embed_dim} "
                f"and num_heads={num_heads}"
            )
        self.kdim = size_arg(kdim, "kdim", name) if kdim is not None else embed_dim
        self.vdim = size_arg(vdim, "vdim", name) if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.dropout = probability(dropout, name)
        self.batch_first = bool(batch_first)
        self.head_dim = embed_dim // num_heads
        e = embed_dim
        if not self._qkv_same_embed_dim:
            self.q_proj_weight = Parameter(empty((e, e), device, dtype, name))
            self.k_proj_weight = Parameter(empty((e, self.kdim), device, dtype, name))
            self.v_proj_weight = Parameter(empty((e, self.vdim), device, dtype, name))
            self.register_parameter("in_proj_weight", None)
        else:
            self.in_proj_weight = Parameter(empty((3 * e, e), device, dtype, name))
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(empty((3 * e,), device, dtype, name))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(e, e, bias=bias, device=device, dtype=dtype)
        if add_bias_kv:
            self.bias_k = Parameter(empty((1, 1, e), device, dtype, name))
            self.bias_v = Parameter(empty((1, 1, e), device, dtype, name))
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        """xavier_uniform_ projections, zero biases, xavier_normal_ bias_k/bias_v (PyTorch's)."""
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
        if self.bias_v is not None:
            init.xavier_normal_(self.bias_v)

    def forward(
        self,
        query: Any,
        key: Any,
        value: Any,
        key_padding_mask: Any = None,
        need_weights: bool = True,
        attn_mask: Any = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ) -> tuple[Any, Any]:
        return F.multi_head_attention_forward(
            query,
            key,
            value,
            self.embed_dim,
            self.num_heads,
            self.in_proj_weight,
            self.in_proj_bias,
            self.bias_k,
            self.bias_v,
            self.add_zero_attn,
            self.dropout,
            self.out_proj.weight,
            self.out_proj.bias,
            training=self.training,
            key_padding_mask=key_padding_mask,
            need_weights=need_weights,
            attn_mask=attn_mask,
            use_separate_proj_weight=not self._qkv_same_embed_dim,
            q_proj_weight=self.q_proj_weight,
            k_proj_weight=self.k_proj_weight,
            v_proj_weight=self.v_proj_weight,
            average_attn_weights=average_attn_weights,
            is_causal=is_causal,
            batch_first=self.batch_first,
        )
