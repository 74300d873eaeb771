"""The bad-input battery: what a new user might pass, and the named exception each must raise.

Each case is a snippet run with ``fd``, ``F``, ``nn``, ``optim``, ``np``, ``DataLoader``,
``TensorDataset``, ``tmp`` (an empty folder) and ``os`` in scope. ``error`` is the exception class
it must raise, whose message must start with ``[op]``; ``error=None`` marks an edge that is valid
and must return. Classes follow DESIGN.md: TypeError for a dtype or a wrong kind of argument,
ValueError for shapes and parameters, IndexError for indices, RuntimeError for autograd misuse,
OverflowError for sizes past int64, FileNotFoundError / IsADirectoryError for paths.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Case:
    id: str
    code: str
    error: str | None  # the exception class's name, or None: it must return
    op: str | None  # the op named in brackets at the start of the message


CASES: list[Case] = []


def add(family: str, name: str, code: str, error: str | None, op: str | None = None) -> None:
    CASES.append(Case(f"{family}/{name}", code, error, op))


X4 = "fd.randn(2, 3, 8, 8)"
W4 = "fd.randn(4, 3, 3, 3)"

# ------------------------------------------------------------------------------------ conv2d
for name, code, error in [
    ("input_2d", f"F.conv2d(fd.randn(8, 8), {W4})", "ValueError"),
    ("input_5d", f"F.conv2d(fd.randn(1, 2, 3, 8, 8), {W4})", "ValueError"),
    ("weight_3d", f"F.conv2d({X4}, fd.randn(4, 3, 3))", "ValueError"),
    ("channels", f"F.conv2d({X4}, fd.randn(4, 5, 3, 3))", "ValueError"),
    ("groups_divide", f"F.conv2d({X4}, fd.randn(4, 1, 3, 3), groups=2)", "ValueError"),
    ("groups_zero", f"F.conv2d({X4}, {W4}, groups=0)", "ValueError"),
    ("stride_zero", f"F.conv2d({X4}, {W4}, stride=0)", "ValueError"),
    ("stride_negative", f"F.conv2d({X4}, {W4}, stride=-1)", "ValueError"),
    ("stride_float", f"F.conv2d({X4}, {W4}, stride=1.5)", "TypeError"),
    ("stride_string", f"F.conv2d({X4}, {W4}, stride='2')", "TypeError"),
    ("stride_three", f"F.conv2d({X4}, {W4}, stride=(1, 1, 1))", "ValueError"),
    ("padding_negative", f"F.conv2d({X4}, {W4}, padding=-1)", "ValueError"),
    ("padding_bogus", f"F.conv2d({X4}, {W4}, padding='bogus')", "ValueError"),
    ("padding_same_strided", f"F.conv2d({X4}, {W4}, padding='same', stride=2)", "ValueError"),
    ("dilation_zero", f"F.conv2d({X4}, {W4}, dilation=0)", "ValueError"),
    ("kernel_too_big", "F.conv2d(fd.randn(1, 3, 2, 2), fd.randn(4, 3, 3, 3))", "ValueError"),
    ("bias_shape", f"F.conv2d({X4}, {W4}, fd.randn(5))", "ValueError"),
    ("bias_2d", f"F.conv2d({X4}, {W4}, fd.randn(4, 1))", "ValueError"),
    ("int_input", f"F.conv2d(fd.ones(2, 3, 8, 8, dtype=fd.int64), {W4})", "TypeError"),
    ("dtype_mismatch", f"F.conv2d({X4}.double(), {W4})", "TypeError"),
    ("bool_weight", f"F.conv2d({X4}, fd.ones(4, 3, 3, 3, dtype=fd.bool))", "TypeError"),
    ("weight_list", f"F.conv2d({X4}, [[1.0]])", "TypeError"),
    ("input_none", f"F.conv2d(None, {W4})", "TypeError"),
    ("zero_channels_weight", f"F.conv2d({X4}, fd.randn(0, 3, 3, 3))", None),
    ("empty_batch", f"F.conv2d(fd.randn(0, 3, 8, 8), {W4})", None),
    ("unbatched_3d", f"F.conv2d(fd.randn(3, 8, 8), {W4})", None),
    ("stride_past_int64", f"F.conv2d({X4}, {W4}, stride=2**64)", "OverflowError"),
    ("padding_huge", f"F.conv2d({X4}, {W4}, padding=2**62)", "OverflowError"),
]:
    add("conv2d", name, code, error, "conv2d")

for name, code, error in [
    ("in_channels_zero", "nn.Conv2d(0, 4, 3)", None),
    ("out_channels_negative", "nn.Conv2d(3, -4, 3)", "ValueError"),
    ("kernel_zero", "nn.Conv2d(3, 4, 0)", "ValueError"),
    ("groups_out", "nn.Conv2d(4, 6, 3, groups=4)", "ValueError"),
    ("padding_mode", "nn.Conv2d(3, 4, 3, padding_mode='mirror')", "ValueError"),
    ("channels_float", "nn.Conv2d(3.0, 4, 3)", "TypeError"),
    ("forward_channels", f"nn.Conv2d(5, 4, 3)({X4})", "ValueError"),
]:
    add("Conv2d", name, code, error, "Conv2d" if "forward" not in name else "conv2d")

XT = "fd.randn(1, 4, 5, 5)"
WT = "fd.randn(4, 2, 3, 3)"
for name, code, error in [
    (
        "output_padding_too_big",
        f"F.conv_transpose2d({XT}, {WT}, stride=2, output_padding=2)",
        "ValueError",
    ),
    ("channels", f"F.conv_transpose2d({XT}, fd.randn(3, 2, 3, 3))", "ValueError"),
    ("stride_zero", f"F.conv_transpose2d({XT}, {WT}, stride=0)", "ValueError"),
    ("input_2d", f"F.conv_transpose2d(fd.randn(5, 5), {WT})", "ValueError"),
    ("int_input", f"F.conv_transpose2d(fd.ones(1, 4, 5, 5, dtype=fd.int32), {WT})", "TypeError"),
    ("padding_negative", f"F.conv_transpose2d({XT}, {WT}, padding=-1)", "ValueError"),
]:
    add("conv_transpose2d", name, code, error, "conv_transpose2d")

# ------------------------------------------------------------------------------------ pooling
for fn in ("max_pool2d", "avg_pool2d"):
    for name, code, error in [
        ("kernel_zero", f"F.{fn}({X4}, 0)", "ValueError"),
        ("kernel_negative", f"F.{fn}({X4}, -2)", "ValueError"),
        ("stride_zero", f"F.{fn}({X4}, 2, stride=0)", "ValueError"),
        ("padding_too_big", f"F.{fn}({X4}, 2, padding=2)", "ValueError"),
        ("padding_negative", f"F.{fn}({X4}, 2, padding=-1)", "ValueError"),
        ("kernel_too_big", f"F.{fn}(fd.randn(1, 1, 2, 2), 3)", "ValueError"),
        ("input_2d", f"F.{fn}(fd.randn(8, 8), 2)", "ValueError"),
        ("input_5d", f"F.{fn}(fd.randn(1, 1, 1, 8, 8), 2)", "ValueError"),
        ("kernel_float", f"F.{fn}({X4}, 2.5)", "TypeError"),
        ("kernel_three", f"F.{fn}({X4}, (2, 2, 2))", "TypeError"),
        ("kernel_huge", f"F.{fn}({X4}, 2**64)", "ValueError"),
        ("unbatched", f"F.{fn}(fd.randn(3, 8, 8), 2)", None),
        ("ceil_mode", f"F.{fn}(fd.randn(1, 1, 5, 5), 2, ceil_mode=True)", None),
    ]:
        add(fn, name, code, error, fn)
add("max_pool2d", "dilation_zero", f"F.max_pool2d({X4}, 2, dilation=0)", "ValueError", "max_pool2d")
add(
    "avg_pool2d",
    "divisor_zero",
    f"F.avg_pool2d({X4}, 2, divisor_override=0)",
    "ValueError",
    "avg_pool2d",
)
for fn in ("adaptive_avg_pool2d", "adaptive_max_pool2d"):
    for name, code, error in [
        ("output_zero", f"F.{fn}({X4}, 0)", "ValueError"),
        ("output_negative", f"F.{fn}({X4}, -1)", "ValueError"),
        ("input_2d", f"F.{fn}(fd.randn(8, 8), 2)", "ValueError"),
        ("output_three", f"F.{fn}({X4}, (1, 2, 3))", "ValueError"),
        ("output_none", f"F.{fn}({X4}, (None, 3))", None),
        ("output_bigger", f"F.{fn}({X4}, 16)", None),
    ]:
        add(fn, name, code, error, fn)

# ------------------------------------------------------------------------------------ batch norm
RM, RV = "fd.zeros(3)", "fd.ones(3)"
for name, code, error in [
    ("mean_shape", f"F.batch_norm({X4}, fd.zeros(4), {RV})", "ValueError"),
    ("var_shape", f"F.batch_norm({X4}, {RM}, fd.ones(2))", "ValueError"),
    ("weight_shape", f"F.batch_norm({X4}, {RM}, {RV}, weight=fd.ones(4))", "ValueError"),
    ("bias_shape", f"F.batch_norm({X4}, {RM}, {RV}, bias=fd.ones(2))", "ValueError"),
    ("input_1d", f"F.batch_norm(fd.randn(3), {RM}, {RV})", "ValueError"),
    ("eps_negative", f"F.batch_norm({X4}, {RM}, {RV}, eps=-1.0)", "ValueError"),
    (
        "one_value_training",
        f"F.batch_norm(fd.randn(1, 3), {RM}, {RV}, training=True)",
        "ValueError",
    ),
    ("int_input", f"F.batch_norm(fd.ones(2, 3, dtype=fd.int64), {RM}, {RV})", "TypeError"),
    ("eval_no_stats", f"F.batch_norm({X4}, None, None, training=False)", "ValueError"),
    ("training_no_stats", f"F.batch_norm({X4}, None, None, training=True)", None),
]:
    add("batch_norm", name, code, error, "batch_norm")
for name, code, error, op in [
    ("features_zero", "nn.BatchNorm2d(0)", None, None),
    ("features_float", "nn.BatchNorm2d(3.5)", "TypeError", "BatchNorm2d"),
    ("forward_channels", f"nn.BatchNorm2d(5)({X4})", "ValueError", "batch_norm"),
    ("forward_ndim", "nn.BatchNorm2d(3)(fd.randn(2, 3))", "ValueError", "BatchNorm2d"),
    ("bn1d_ndim", "nn.BatchNorm1d(3)(fd.randn(2, 3, 4, 5))", "ValueError", "BatchNorm1d"),
    ("momentum_none", f"nn.BatchNorm2d(3, momentum=None)({X4})", None, None),
]:
    add("BatchNorm", name, code, error, op)
for name, code, error in [
    ("shape_mismatch", "F.layer_norm(fd.randn(2, 5), (4,))", "ValueError"),
    ("weight_shape", "F.layer_norm(fd.randn(2, 4), (4,), weight=fd.ones(3))", "ValueError"),
    ("int_input", "F.layer_norm(fd.ones(2, 4, dtype=fd.int64), (4,))", "TypeError"),
    ("shape_too_long", "F.layer_norm(fd.randn(4), (2, 4))", "ValueError"),
    ("empty_shape", "F.layer_norm(fd.randn(2, 4), ())", "ValueError"),
]:
    add("layer_norm", name, code, error, "layer_norm")
for name, code, error in [
    ("groups_divide", "F.group_norm(fd.randn(2, 6, 4), 4)", "ValueError"),
    ("groups_zero", "F.group_norm(fd.randn(2, 6, 4), 0)", "ValueError"),
    ("input_1d", "F.group_norm(fd.randn(6), 2)", "ValueError"),
]:
    add("group_norm", name, code, error, "group_norm")

# ------------------------------------------------------------------------------------ matmul, linear
for name, code, error, op in [
    ("inner_mismatch", "fd.randn(3, 4) @ fd.randn(5, 2)", "ValueError", "matmul"),
    ("batch_mismatch", "fd.randn(2, 3, 4) @ fd.randn(3, 4, 2)", "ValueError", "matmul"),
    ("scalar", "fd.tensor(2.0) @ fd.randn(2)", "ValueError", "matmul"),
    ("int_float", "fd.ones(2, 2, dtype=fd.int64) @ fd.randn(2, 2)", "TypeError", "matmul"),
    ("vector_vector_mismatch", "fd.randn(3) @ fd.randn(4)", "ValueError", "matmul"),
    ("bool", "fd.ones(2, 2, dtype=fd.bool) @ fd.ones(2, 2, dtype=fd.bool)", None, None),
    ("array_operand", "fd.randn(2, 2) @ [[1.0, 2.0], [3.0, 4.0]]", "TypeError", None),
    ("mm_3d", "fd.mm(fd.randn(2, 2, 2), fd.randn(2, 2))", "ValueError", "mm"),
    ("bmm_2d", "fd.bmm(fd.randn(2, 2), fd.randn(2, 2))", "ValueError", "bmm"),
    ("bmm_batch", "fd.bmm(fd.randn(2, 2, 3), fd.randn(3, 3, 2))", "ValueError", "bmm"),
    ("zero_inner", "fd.randn(3, 0) @ fd.randn(0, 2)", None, None),
    ("linear_features", "F.linear(fd.randn(2, 5), fd.randn(3, 4))", "ValueError", "linear"),
    (
        "linear_bias",
        "F.linear(fd.randn(2, 4), fd.randn(3, 4), fd.randn(2))",
        "ValueError",
        "linear",
    ),
    ("linear_weight_1d", "F.linear(fd.randn(2, 4), fd.randn(4))", "ValueError", "linear"),
    ("Linear_negative", "nn.Linear(-1, 3)", "ValueError", "Linear"),
    ("Linear_float", "nn.Linear(2.5, 3)", "TypeError", "Linear"),
    ("Linear_forward", "nn.Linear(4, 3)(fd.randn(2, 5))", "ValueError", "linear"),
    ("Linear_int_input", "nn.Linear(4, 3)(fd.ones(2, 4, dtype=fd.int64))", "TypeError", "linear"),
    ("Linear_scalar_input", "nn.Linear(4, 3)(fd.tensor(1.0))", "ValueError", "linear"),
    (
        "Bilinear_features",
        "nn.Bilinear(2, 3, 4)(fd.randn(5, 2), fd.randn(5, 2))",
        "ValueError",
        "bilinear",
    ),
]:
    add("matmul", name, code, error, op)

# ------------------------------------------------------------------------------------ softmax
for fn in ("softmax", "log_softmax"):
    for name, code, error in [
        ("dim_out_of_range", f"F.{fn}(fd.randn(2, 3), dim=2)", "IndexError"),
        ("dim_negative_out", f"F.{fn}(fd.randn(2, 3), dim=-3)", "IndexError"),
        ("dim_float", f"F.{fn}(fd.randn(2, 3), dim=1.0)", "TypeError"),
        ("int_input", f"F.{fn}(fd.ones(2, 3, dtype=fd.int64), dim=1)", "TypeError"),
        ("scalar", f"F.{fn}(fd.tensor(1.0), dim=0)", None),
        ("empty", f"F.{fn}(fd.randn(0, 3), dim=1)", None),
    ]:
        add(fn, name, code, error, fn)

# ------------------------------------------------------------------------------------ losses
LOGITS, TARGET = "fd.randn(4, 3)", "fd.tensor([0, 1, 2, 1])"
for name, code, error in [
    ("target_out_of_range", f"F.cross_entropy({LOGITS}, fd.tensor([0, 1, 3, 1]))", "IndexError"),
    ("target_negative", f"F.cross_entropy({LOGITS}, fd.tensor([0, -2, 1, 1]))", "IndexError"),
    ("batch_mismatch", f"F.cross_entropy({LOGITS}, fd.tensor([0, 1]))", "ValueError"),
    ("target_float_shape", f"F.cross_entropy({LOGITS}, fd.randn(4, 2))", "ValueError"),
    ("target_int32", f"F.cross_entropy({LOGITS}, fd.tensor([0, 1, 2, 1], dtype=fd.int32))", None),
    ("target_bool", f"F.cross_entropy({LOGITS}, fd.ones(4, dtype=fd.bool))", "TypeError"),
    ("weight_length", f"F.cross_entropy({LOGITS}, {TARGET}, weight=fd.ones(4))", "ValueError"),
    ("reduction", f"F.cross_entropy({LOGITS}, {TARGET}, reduction='avg')", "ValueError"),
    (
        "label_smoothing_high",
        f"F.cross_entropy({LOGITS}, {TARGET}, label_smoothing=1.5)",
        "ValueError",
    ),
    (
        "label_smoothing_negative",
        f"F.cross_entropy({LOGITS}, {TARGET}, label_smoothing=-0.1)",
        "ValueError",
    ),
    ("int_logits", f"F.cross_entropy(fd.ones(4, 3, dtype=fd.int64), {TARGET})", "TypeError"),
    ("logits_0d", "F.cross_entropy(fd.tensor(1.0), fd.tensor(0))", "ValueError"),
    ("ignore_index_all", f"F.cross_entropy({LOGITS}, fd.full((4,), -100))", None),
    ("probabilities_target", f"F.cross_entropy({LOGITS}, fd.softmax(fd.randn(4, 3), 1))", None),
]:
    add("cross_entropy", name, code, error, "cross_entropy")
for name, code, error, op in [
    (
        "nll_target_range",
        "F.nll_loss(fd.randn(4, 3), fd.tensor([0, 5, 1, 1]))",
        "IndexError",
        "nll_loss",
    ),
    ("nll_input_1d_target_1d", "F.nll_loss(fd.randn(3), fd.tensor([0]))", "ValueError", "nll_loss"),
    ("mse_shape", "F.mse_loss(fd.randn(3), fd.randn(4))", "ValueError", "mse_loss"),
    (
        "mse_int",
        "F.mse_loss(fd.ones(3, dtype=fd.int64), fd.ones(3, dtype=fd.int64))",
        "TypeError",
        "mse_loss",
    ),
    (
        "mse_reduction",
        "F.mse_loss(fd.randn(3), fd.randn(3), reduction='none2')",
        "ValueError",
        "mse_loss",
    ),
    ("l1_shape", "F.l1_loss(fd.randn(3, 2), fd.randn(2, 3))", "ValueError", "l1_loss"),
    (
        "bce_range",
        "F.binary_cross_entropy(fd.tensor([1.5]), fd.tensor([1.0]))",
        "ValueError",
        "binary_cross_entropy",
    ),
    (
        "bce_shape",
        "F.binary_cross_entropy(fd.rand(3), fd.rand(4))",
        "ValueError",
        "binary_cross_entropy",
    ),
    (
        "bce_logits_shape",
        "F.binary_cross_entropy_with_logits(fd.randn(3), fd.rand(4))",
        "ValueError",
        "binary_cross_entropy_with_logits",
    ),
    (
        "bce_logits_pos_weight",
        "F.binary_cross_entropy_with_logits(fd.randn(2, 3), fd.rand(2, 3), pos_weight=fd.ones(4))",
        "ValueError",
        "binary_cross_entropy_with_logits",
    ),
    (
        "huber_delta",
        "F.huber_loss(fd.randn(3), fd.randn(3), delta=0.0)",
        "ValueError",
        "huber_loss",
    ),
    (
        "smooth_l1_beta",
        "F.smooth_l1_loss(fd.randn(3), fd.randn(3), beta=-1.0)",
        "ValueError",
        "smooth_l1_loss",
    ),
    (
        "kl_div_shape",
        "F.kl_div(fd.randn(2, 3), fd.rand(3, 2), reduction='batchmean')",
        "ValueError",
        "kl_div",
    ),
    (
        "CrossEntropyLoss_reduction",
        "nn.CrossEntropyLoss(reduction='avg')",
        "ValueError",
        "CrossEntropyLoss",
    ),
    (
        "margin_ranking_shape",
        "F.margin_ranking_loss(fd.randn(3), fd.randn(3), fd.randn(4))",
        "ValueError",
        "margin_ranking_loss",
    ),
    (
        "ctc_lengths",
        "F.ctc_loss(fd.randn(5, 2, 4).log_softmax(2), fd.tensor([[1, 2], [1, 1]]), fd.tensor([5, 5]), fd.tensor([3, 2]))",
        "ValueError",
        "ctc_loss",
    ),
]:
    add("loss", name, code, error, op)

# ------------------------------------------------------------------------------------ attention
Q = "fd.randn(2, 2, 4, 8)"
for name, code, error in [
    ("head_size", f"F.scaled_dot_product_attention({Q}, fd.randn(2, 2, 4, 6), {Q})", "ValueError"),
    ("kv_length", f"F.scaled_dot_product_attention({Q}, fd.randn(2, 2, 5, 8), {Q})", "ValueError"),
    ("dtype", f"F.scaled_dot_product_attention({Q}, {Q}.double(), {Q})", "TypeError"),
    (
        "int",
        f"F.scaled_dot_product_attention(fd.ones(2, 4, 8, dtype=fd.int64), {Q}, {Q})",
        "TypeError",
    ),
    ("query_1d", f"F.scaled_dot_product_attention(fd.randn(8), {Q}, {Q})", "ValueError"),
    (
        "batch",
        f"F.scaled_dot_product_attention({Q}, fd.randn(3, 2, 4, 8), fd.randn(3, 2, 4, 8))",
        "ValueError",
    ),
    (
        "mask_shape",
        f"F.scaled_dot_product_attention({Q}, {Q}, {Q}, attn_mask=fd.ones(3, 4, dtype=fd.bool))",
        "ValueError",
    ),
    (
        "mask_int",
        f"F.scaled_dot_product_attention({Q}, {Q}, {Q}, attn_mask=fd.ones(4, 4, dtype=fd.int64))",
        "TypeError",
    ),
    (
        "learned_mask_shape",
        f"F.scaled_dot_product_attention({Q}, {Q}, {Q}, attn_mask=fd.zeros(3, 4, 4, requires_grad=True))",
        "ValueError",
    ),
    ("dropout_high", f"F.scaled_dot_product_attention({Q}, {Q}, {Q}, dropout_p=1.5)", "ValueError"),
    (
        "dropout_string",
        f"F.scaled_dot_product_attention({Q}, {Q}, {Q}, dropout_p='0.1')",
        "TypeError",
    ),
    (
        "gqa_heads",
        f"F.scaled_dot_product_attention(fd.randn(2, 3, 4, 8), {Q}, {Q}, enable_gqa=True)",
        "ValueError",
    ),
    (
        "learned_mask_heads",
        f"F.scaled_dot_product_attention({Q}, {Q}, {Q}, attn_mask=fd.zeros(2, 4, 4, requires_grad=True))",
        None,
    ),
    (
        "empty_keys",
        f"F.scaled_dot_product_attention({Q}, fd.randn(2, 2, 0, 8), fd.randn(2, 2, 0, 8))",
        None,
    ),
]:
    add("attention", name, code, error, "scaled_dot_product_attention")
for name, code, error, op in [
    ("embed_heads", "nn.MultiheadAttention(10, 3)", "ValueError", "MultiheadAttention"),
    ("embed_zero", "nn.MultiheadAttention(0, 1)", "ValueError", "MultiheadAttention"),
    (
        "forward_embed",
        "nn.MultiheadAttention(8, 2)(fd.randn(4, 2, 6), fd.randn(4, 2, 6), fd.randn(4, 2, 6))",
        "ValueError",
        "multi_head_attention_forward",
    ),
    (
        "key_padding_shape",
        "m = nn.MultiheadAttention(8, 2); x = fd.randn(4, 2, 8); m(x, x, x, key_padding_mask=fd.zeros(3, 4, dtype=fd.bool))",
        "ValueError",
        "multi_head_attention_forward",
    ),
    (
        "attn_mask_shape",
        "m = nn.MultiheadAttention(8, 2); x = fd.randn(4, 2, 8); m(x, x, x, attn_mask=fd.zeros(3, 3))",
        "ValueError",
        "multi_head_attention_forward",
    ),
    (
        "encoder_layer_heads",
        "nn.TransformerEncoderLayer(10, 3)",
        "ValueError",
        "MultiheadAttention",
    ),
]:
    add("MultiheadAttention", name, code, error, op)

# ------------------------------------------------------------------------------------ embedding
for name, code, error, op in [
    ("index_high", "F.embedding(fd.tensor([0, 5]), fd.randn(5, 3))", "IndexError", "embedding"),
    ("index_negative", "F.embedding(fd.tensor([-1]), fd.randn(5, 3))", "IndexError", "embedding"),
    ("index_float", "F.embedding(fd.tensor([0.0, 1.0]), fd.randn(5, 3))", "TypeError", "embedding"),
    ("weight_1d", "F.embedding(fd.tensor([0]), fd.randn(5))", "ValueError", "embedding"),
    (
        "padding_idx_out",
        "F.embedding(fd.tensor([0]), fd.randn(5, 3), padding_idx=7)",
        "ValueError",
        "embedding",
    ),
    (
        "max_norm_negative",
        "F.embedding(fd.tensor([0]), fd.randn(5, 3), max_norm=-1.0)",
        "ValueError",
        "embedding",
    ),
    ("Embedding_zero", "nn.Embedding(0, 3)(fd.tensor([0]))", "IndexError", "embedding"),
    ("Embedding_negative", "nn.Embedding(-1, 3)", "ValueError", "Embedding"),
    ("Embedding_padding_idx", "nn.Embedding(5, 3, padding_idx=5)", "ValueError", "Embedding"),
    ("Embedding_float_size", "nn.Embedding(5.5, 3)", "TypeError", "Embedding"),
    ("Embedding_2d_index", "nn.Embedding(5, 3)(fd.tensor([[0, 1], [2, 3]]))", None, None),
    ("Embedding_empty_index", "nn.Embedding(5, 3)(fd.zeros(0, dtype=fd.int64))", None, None),
    ("one_hot_range", "F.one_hot(fd.tensor([0, 3]), 3)", "ValueError", "one_hot"),
    ("one_hot_float", "F.one_hot(fd.tensor([0.0]), 3)", "TypeError", "one_hot"),
]:
    add("embedding", name, code, error, op)

# ------------------------------------------------------------------------------------ recurrent
for cell in ("RNN", "LSTM", "GRU"):
    for name, code, error, op in [
        ("input_size", f"nn.{cell}(4, 8)(fd.randn(5, 2, 3))", "ValueError", cell),
        ("input_2d_batch", f"nn.{cell}(4, 8)(fd.randn(5, 3))", "ValueError", cell),
        ("input_4d", f"nn.{cell}(4, 8)(fd.randn(5, 2, 4, 1))", "ValueError", cell),
        ("hidden_zero", f"nn.{cell}(4, 0)", "ValueError", cell),
        ("layers_zero", f"nn.{cell}(4, 8, num_layers=0)", "ValueError", cell),
        ("dropout_high", f"nn.{cell}(4, 8, dropout=1.5)", "ValueError", cell),
        ("int_input", f"nn.{cell}(4, 8)(fd.ones(5, 2, 4, dtype=fd.int64))", "TypeError", cell),
        ("unbatched", f"nn.{cell}(4, 8)(fd.randn(5, 4))", None, None),
        ("batch_first", f"nn.{cell}(4, 8, batch_first=True)(fd.randn(2, 5, 4))", None, None),
    ]:
        add(cell, name, code, error, op)
    h0 = "(fd.zeros(1, 2, 8), fd.zeros(1, 2, 8))" if cell == "LSTM" else "fd.zeros(1, 3, 8)"
    add(
        cell,
        "h0_shape",
        f"nn.{cell}(4, 8)(fd.randn(5, 2, 4), {h0.replace('2, 8', '3, 8')})",
        "ValueError",
        cell,
    )
add("RNN", "nonlinearity", "nn.RNN(4, 8, nonlinearity='gelu')", "ValueError", "RNN")
add("LSTM", "proj_size", "nn.LSTM(4, 8, proj_size=8)", "ValueError", "LSTM")
add(
    "LSTM",
    "h0_not_tuple",
    "nn.LSTM(4, 8)(fd.randn(5, 2, 4), fd.zeros(1, 2, 8))",
    "TypeError",
    "LSTM",
)
for cell in ("RNNCell", "LSTMCell", "GRUCell"):
    add(cell, "input_size", f"nn.{cell}(4, 8)(fd.randn(2, 3))", "ValueError", cell)
    add(
        cell,
        "hidden_shape",
        f"nn.{cell}(4, 8)(fd.randn(2, 4), {'(fd.zeros(3, 8), fd.zeros(3, 8))' if cell == 'LSTMCell' else 'fd.zeros(3, 8)'})",
        "ValueError",
        cell,
    )

# ------------------------------------------------------------------------------------ tensor ops
T = "fd.randn(2, 3, 4)"
for name, code, error, op in [
    ("reshape_invalid", f"{T}.reshape(5, 5)", "ValueError", "reshape"),
    ("reshape_two_minus_one", f"{T}.reshape(-1, -1)", "ValueError", "reshape"),
    ("reshape_float", f"{T}.reshape(4.0, 6)", "TypeError", "reshape"),
    ("view_non_contiguous", f"{T}.transpose(0, 2).view(24)", "RuntimeError", "view"),
    ("view_invalid", f"{T}.view(7)", "ValueError", "view"),
    ("permute_repeat", f"{T}.permute(0, 0, 1)", "ValueError", "permute"),
    ("permute_length", f"{T}.permute(0, 1)", "ValueError", "permute"),
    ("transpose_dim", f"{T}.transpose(0, 3)", "IndexError", "transpose"),
    ("sum_dim", f"{T}.sum(dim=3)", "IndexError", "sum"),
    ("mean_int", "fd.ones(3, dtype=fd.int64).mean()", "TypeError", "mean"),
    ("max_dim", f"{T}.max(dim=5)", "IndexError", "max"),
    ("argmax_empty", "fd.randn(0).argmax()", "ValueError", "argmax"),
    ("max_empty", "fd.randn(0).max()", "ValueError", "max"),
    ("squeeze_dim", f"{T}.squeeze(4)", "IndexError", "squeeze"),
    ("unsqueeze_dim", f"{T}.unsqueeze(5)", "IndexError", "unsqueeze"),
    ("flatten_dims", f"{T}.flatten(2, 1)", "ValueError", "flatten"),
    ("expand_invalid", f"{T}.expand(3, 3, 4)", "ValueError", "expand"),
    ("expand_fewer", f"{T}.expand(3, 4)", "ValueError", "expand"),
    ("repeat_fewer", f"{T}.repeat(2, 2)", "ValueError", "repeat"),
    ("cat_empty", "fd.cat([])", "ValueError", "cat"),
    ("cat_shapes", "fd.cat([fd.randn(2, 3), fd.randn(2, 4)])", "ValueError", "cat"),
    ("cat_dim", "fd.cat([fd.randn(2, 3), fd.randn(2, 3)], dim=2)", "IndexError", "cat"),
    ("cat_ndim", "fd.cat([fd.randn(2, 3), fd.randn(3)])", "ValueError", "cat"),
    ("cat_not_tensors", "fd.cat([[1.0], [2.0]])", "TypeError", "cat"),
    ("stack_shapes", "fd.stack([fd.randn(2, 3), fd.randn(3, 2)])", "ValueError", "stack"),
    ("stack_empty", "fd.stack([])", "ValueError", "stack"),
    ("split_zero", f"{T}.split(0)", "ValueError", "split"),
    ("split_sizes", f"{T}.split([1, 1], dim=0)", None, None),
    ("split_sizes_sum", f"{T}.split([1, 2], dim=0)", "ValueError", "split"),
    ("chunk_zero", f"{T}.chunk(0)", "ValueError", "chunk"),
    ("narrow_range", f"{T}.narrow(1, 2, 5)", "IndexError", "narrow"),
    ("index_out_of_range", f"{T}[5]", "IndexError", "index"),
    ("index_too_many", f"{T}[0, 0, 0, 0]", "IndexError", "index"),
    ("index_float", f"{T}[1.5]", "IndexError", "index"),
    ("index_bool_mask_shape", f"{T}[fd.ones(3, dtype=fd.bool)]", "IndexError", "index"),
    ("setitem_shape", "t = fd.zeros(3); t[:] = fd.ones(4)", "ValueError", "index"),
    ("gather_index_range", "fd.randn(2, 3).gather(1, fd.tensor([[0, 3]]))", "IndexError", "gather"),
    ("gather_index_float", "fd.randn(2, 3).gather(1, fd.tensor([[0.0]]))", "TypeError", "gather"),
    ("gather_dim", "fd.randn(2, 3).gather(2, fd.tensor([[0]]))", "IndexError", "gather"),
    (
        "index_select_2d",
        "fd.randn(2, 3).index_select(0, fd.tensor([[0]]))",
        "IndexError",
        "index_select",
    ),
    (
        "index_select_range",
        "fd.randn(2, 3).index_select(0, fd.tensor([-1]))",
        "IndexError",
        "index_select",
    ),
    ("scatter_range", "fd.zeros(2, 3).scatter(1, fd.tensor([[3]]), 1.0)", "IndexError", "scatter"),
    (
        "scatter_add_range",
        "fd.zeros(2, 3).scatter_add(1, fd.tensor([[-1]]), fd.ones(1, 1))",
        "IndexError",
        "scatter_add",
    ),
    (
        "index_add_range",
        "fd.zeros(3).index_add(0, fd.tensor([3]), fd.ones(1))",
        "IndexError",
        "index_add",
    ),
    (
        "masked_fill_float_mask",
        "fd.randn(3).masked_fill(fd.ones(3), 0.0)",
        "RuntimeError",
        "masked_fill",
    ),
    (
        "masked_fill_shape",
        "fd.randn(3).masked_fill(fd.ones(4, dtype=fd.bool), 0.0)",
        "ValueError",
        "masked_fill",
    ),
    (
        "where_shapes",
        "fd.where(fd.ones(3, dtype=fd.bool), fd.randn(3), fd.randn(4))",
        "ValueError",
        "where",
    ),
    ("where_cond_float", "fd.where(fd.ones(3), fd.randn(3), fd.randn(3))", "TypeError", "where"),
    ("topk_k", "fd.randn(3).topk(4)", "RuntimeError", "topk"),
    ("topk_negative", "fd.randn(3).topk(-1)", "RuntimeError", "topk"),
    ("sort_dim", "fd.randn(3).sort(dim=1)", "IndexError", "sort"),
    ("kthvalue_k", "fd.randn(3).kthvalue(0)", "IndexError", "kthvalue"),
    ("add_shapes", "fd.randn(2, 3) + fd.randn(3, 2)", "ValueError", "add"),
    ("mul_shapes", "fd.randn(4) * fd.randn(3)", "ValueError", "mul"),
    ("add_string", "fd.randn(3) + 'a'", "TypeError", None),
    ("add_none", "fd.randn(3) + None", "TypeError", None),
    ("int_div_zero", "fd.tensor([1, 2]) // 0", "ZeroDivisionError", "floor_divide"),
    ("int_mod_zero", "fd.tensor([1, 2]) % fd.tensor([1, 0])", "ZeroDivisionError", "remainder"),
    ("float_div_zero", "fd.tensor([1.0]) / 0", None, None),
    ("item_many", "fd.randn(3).item()", "ValueError", "item"),
    ("bool_many", "bool(fd.randn(3))", "RuntimeError", "bool"),
    ("int_many", "int(fd.randn(3))", "ValueError", "item"),
    ("float_empty", "float(fd.randn(0))", "ValueError", "item"),
    ("numpy_requires_grad", "fd.randn(3, requires_grad=True).numpy()", "RuntimeError", "numpy"),
    ("clamp_none", "fd.randn(3).clamp()", "ValueError", "clamp"),
    ("pow_int_negative", "fd.tensor([2]) ** -1", "ValueError", "pow"),
    ("einsum_operands", "fd.einsum('ij,jk->ik', fd.randn(2, 3))", "ValueError", "einsum"),
    (
        "einsum_dims",
        "fd.einsum('ij,jk->ik', fd.randn(2, 3), fd.randn(4, 2))",
        "RuntimeError",
        "einsum",
    ),
    ("tensor_ragged", "fd.tensor([[1.0, 2.0], [3.0]])", "ValueError", "tensor"),
    ("tensor_strings", "fd.tensor(['a'])", "TypeError", "tensor"),
    ("tensor_dtype", "fd.tensor([1.0], dtype='float99')", "TypeError", "tensor"),
    ("zeros_negative", "fd.zeros(-1)", "ValueError", "zeros"),
    ("zeros_float", "fd.zeros(2.5)", "TypeError", "zeros"),
    ("zeros_huge", "fd.zeros(2**62)", "OverflowError", "zeros"),
    ("randint_range", "fd.randint(5, 2, (3,))", "ValueError", "randint"),
    ("arange_step_zero", "fd.arange(0, 5, 0)", "ValueError", "arange"),
    ("arange_wrong_sign", "fd.arange(0, 5, -1)", "ValueError", "arange"),
    ("linspace_negative", "fd.linspace(0, 1, -2)", "ValueError", "linspace"),
    ("eye_negative", "fd.eye(-1)", "ValueError", "eye"),
    ("full_shape_string", "fd.full('ab', 1.0)", "TypeError", "full"),
    ("normal_std", "fd.empty(3).normal_(0, -1)", "ValueError", "normal_"),
    ("uniform_range", "fd.empty(3).uniform_(1, 0)", "ValueError", "uniform_"),
    ("dropout_p", "F.dropout(fd.randn(3), p=1.5)", "ValueError", "dropout"),
    ("dropout_p_negative", "nn.Dropout(-0.1)", "ValueError", "Dropout"),
    ("pad_odd", "F.pad(fd.randn(2, 3), (1, 1, 1))", "ValueError", "pad"),
    ("pad_mode", "F.pad(fd.randn(1, 2, 3), (1, 1), mode='bogus')", "ValueError", "pad"),
    (
        "pad_reflect_too_big",
        "F.pad(fd.randn(1, 2, 3), (3, 3), mode='reflect')",
        "ValueError",
        "pad",
    ),
    (
        "interpolate_both",
        "F.interpolate(fd.randn(1, 1, 4, 4), size=8, scale_factor=2)",
        "ValueError",
        "interpolate",
    ),
    ("interpolate_none", "F.interpolate(fd.randn(1, 1, 4, 4))", "ValueError", "interpolate"),
    (
        "interpolate_mode",
        "F.interpolate(fd.randn(1, 1, 4, 4), scale_factor=2, mode='cubic')",
        "ValueError",
        "interpolate",
    ),
    ("unfold_kernel", "F.unfold(fd.randn(1, 1, 4, 4), 5)", "ValueError", "unfold"),
    ("fold_size", "F.fold(fd.randn(1, 4, 5), (3, 3), 2)", "ValueError", "fold"),
    ("inplace_leaf", "fd.randn(3, requires_grad=True).add_(1)", "RuntimeError", "add_"),
    ("inplace_broadcast", "fd.zeros(1).expand(3).add_(1)", "RuntimeError", "add_"),
    ("zero_broadcast", "fd.zeros(1).expand(3).zero_()", "RuntimeError", "zero_"),
    ("fill_broadcast", "fd.zeros(1).expand(3).fill_(2.0)", "RuntimeError", "fill_"),
    ("normal_broadcast", "fd.zeros(1).expand(3).normal_()", "RuntimeError", "normal_"),
    ("inplace_shape", "fd.zeros(3).add_(fd.ones(2, 3))", "ValueError", "add_"),
    ("inplace_int_float", "fd.zeros(3, dtype=fd.int64).mul_(1.5)", "TypeError", "mul_"),
    (
        "relu_inplace_leaf",
        "F.relu(fd.randn(3, requires_grad=True), inplace=True)",
        "RuntimeError",
        "relu",
    ),
    (
        "relu_inplace_broadcast",
        "F.relu(fd.zeros(1).expand(3), inplace=True)",
        "RuntimeError",
        "relu",
    ),
    ("copy_shape", "fd.zeros(3).copy_(fd.ones(4))", "ValueError", "copy_"),
    (
        "backward_non_scalar",
        "fd.randn(3, requires_grad=True).mul(2).backward()",
        "RuntimeError",
        "backward",
    ),
    ("backward_no_grad", "fd.randn(3).sum().backward()", "RuntimeError", "backward"),
    (
        "backward_twice",
        "x = fd.randn(3, requires_grad=True); y = (x * x).sum(); y.backward(); y.backward()",
        "RuntimeError",
        "backward",
    ),
    (
        "backward_grad_shape",
        "fd.randn(3, requires_grad=True).mul(2).backward(fd.ones(4))",
        "RuntimeError",
        "backward",
    ),
    (
        "backward_modified",
        "x = fd.randn(3, requires_grad=True); y = x.exp()\nwith fd.no_grad(): y.add_(1)\ny.sum().backward()",
        "RuntimeError",
        "backward",
    ),
    (
        "grad_unused",
        "x = fd.randn(3, requires_grad=True); z = fd.randn(3, requires_grad=True); fd.autograd.grad((x * 2).sum(), z)",
        "RuntimeError",
        "grad",
    ),
    (
        "requires_grad_int",
        "fd.ones(3, dtype=fd.int64).requires_grad_()",
        "RuntimeError",
        "requires_grad_",
    ),
    ("to_bogus_device", "fd.randn(3).to('tpu')", "RuntimeError", None),
    ("to_bogus_dtype", "fd.randn(3).to(dtype='float99')", "TypeError", None),
    ("cuda_unavailable", "fd.randn(3).cuda()", "RuntimeError", None),
]:
    add("tensor", name, code, error, op)

# ------------------------------------------------------------------------------------ optim
P = "[nn.Parameter(fd.randn(3))]"
for opt, extra in [
    ("SGD", {"momentum": -0.1, "dampening": None, "weight_decay": -1.0}),
    ("Adam", {"betas": (1.0, 0.9), "eps": -1e-8, "weight_decay": -1.0}),
    ("AdamW", {"betas": (0.9, -0.1), "eps": -1e-8, "weight_decay": -1.0}),
    ("RMSprop", {"alpha": -0.5, "eps": -1e-8, "momentum": -1.0}),
    ("Adagrad", {"lr_decay": -1.0, "eps": -1.0, "weight_decay": -1.0}),
    ("Adadelta", {"rho": 1.5, "eps": -1.0, "weight_decay": -1.0}),
]:
    add("optim", f"{opt}_lr_negative", f"optim.{opt}({P}, lr=-0.1)", "ValueError", opt)
    add("optim", f"{opt}_lr_nan", f"optim.{opt}({P}, lr=float('nan'))", "ValueError", opt)
    add("optim", f"{opt}_lr_string", f"optim.{opt}({P}, lr='0.1')", "TypeError", opt)
    add("optim", f"{opt}_empty", f"optim.{opt}([], lr=0.1)", "ValueError", opt)
    add("optim", f"{opt}_not_tensors", f"optim.{opt}([1.0, 2.0], lr=0.1)", "TypeError", opt)
    add(
        "optim",
        f"{opt}_int_param",
        f"optim.{opt}([fd.ones(3, dtype=fd.int64)], lr=0.1)",
        "TypeError",
        opt,
    )
    add(
        "optim",
        f"{opt}_duplicate",
        f"p = nn.Parameter(fd.randn(3)); optim.{opt}([p, p], lr=0.1)",
        "ValueError",
        opt,
    )
    for key, value in extra.items():
        if value is None:
            continue
        add(
            "optim", f"{opt}_{key}", f"optim.{opt}({P}, lr=0.1, {key}={value!r})", "ValueError", opt
        )
    add(
        "optim",
        f"{opt}_load_state_mismatch",
        f"o = optim.{opt}({P}, lr=0.1); o.load_state_dict({{'state': {{}}, 'param_groups': []}})",
        "ValueError",
        opt,
    )
add(
    "optim",
    "SGD_nesterov_no_momentum",
    f"optim.SGD({P}, lr=0.1, nesterov=True)",
    "ValueError",
    "SGD",
)
add(
    "optim",
    "SGD_params_generator_twice_ok",
    "m = nn.Linear(2, 2); optim.SGD(m.parameters(), lr=0.1)",
    None,
    None,
)
add(
    "optim",
    "StepLR_step_size",
    f"optim.lr_scheduler.StepLR(optim.SGD({P}, lr=0.1), step_size=0)",
    "ValueError",
    "StepLR",
)
add(
    "optim",
    "StepLR_not_optimizer",
    "optim.lr_scheduler.StepLR(None, step_size=1)",
    "TypeError",
    "StepLR",
)
add(
    "optim",
    "OneCycleLR_total",
    f"optim.lr_scheduler.OneCycleLR(optim.SGD({P}, lr=0.1), max_lr=1.0)",
    "ValueError",
    "OneCycleLR",
)
add(
    "optim",
    "clip_grad_norm_type",
    "m = nn.Linear(2, 2); nn.utils.clip_grad_norm_(m.parameters(), 1.0, norm_type='fro2')",
    "ValueError",
    "clip_grad_norm_",
)
add(
    "optim",
    "clip_grad_nonfinite",
    "m = nn.Linear(2, 2); m.weight.grad = fd.full((2, 2), float('nan')); nn.utils.clip_grad_norm_(m.parameters(), 1.0, error_if_nonfinite=True)",
    "RuntimeError",
    "clip_grad_norm_",
)

# ------------------------------------------------------------------------------------ data loading
DS = "TensorDataset(fd.randn(10, 2), fd.arange(10))"
for name, code, error, op in [
    ("batch_size_zero", f"DataLoader({DS}, batch_size=0)", "ValueError", "DataLoader"),
    ("batch_size_negative", f"DataLoader({DS}, batch_size=-1)", "ValueError", "DataLoader"),
    ("batch_size_float", f"DataLoader({DS}, batch_size=2.5)", "ValueError", "DataLoader"),
    ("num_workers_negative", f"DataLoader({DS}, num_workers=-1)", "ValueError", "DataLoader"),
    (
        "shuffle_and_sampler",
        f"DataLoader({DS}, shuffle=True, sampler=range(10))",
        "ValueError",
        "DataLoader",
    ),
    (
        "batch_sampler_and_batch_size",
        f"DataLoader({DS}, batch_size=2, batch_sampler=[[0, 1]])",
        "ValueError",
        "DataLoader",
    ),
    ("not_dataset", "list(DataLoader(5))", "TypeError", "DataLoader"),
    (
        "TensorDataset_lengths",
        "TensorDataset(fd.randn(10, 2), fd.arange(9))",
        "ValueError",
        "TensorDataset",
    ),
    ("TensorDataset_index", f"{DS}[10]", "IndexError", None),
    ("timeout_negative", f"DataLoader({DS}, timeout=-1)", "ValueError", "DataLoader"),
    ("drop_last_all", f"list(DataLoader({DS}, batch_size=20, drop_last=True))", None, None),
    (
        "random_split_lengths",
        f"fd.utils.data.random_split({DS}, [5, 6])",
        "ValueError",
        "random_split",
    ),
    (
        "collate_ragged",
        "list(DataLoader([fd.randn(2), fd.randn(3)], batch_size=2))",
        "RuntimeError",
        "default_collate",
    ),
]:
    add("data", name, code, error, op)

# ------------------------------------------------------------------------------------ files
for name, code, error, op in [
    (
        "load_missing",
        "fd.load(os.path.join(tmp, 'missing.safetensors'))",
        "FileNotFoundError",
        "load",
    ),
    ("load_directory", "fd.load(tmp)", "IsADirectoryError", "load"),
    (
        "load_text",
        "p = os.path.join(tmp, 'a.txt'); open(p, 'w').write('hello'); fd.load(p)",
        "ValueError",
        "load",
    ),
    (
        "load_empty",
        "p = os.path.join(tmp, 'e.safetensors'); open(p, 'wb').close(); fd.load(p)",
        "ValueError",
        "load",
    ),
    (
        "load_truncated",
        "p = os.path.join(tmp, 't.safetensors'); fd.save({'a': fd.ones(100)}, p); b = open(p, 'rb').read(); open(p, 'wb').write(b[:-7]); fd.load(p)",
        "ValueError",
        "load",
    ),
    (
        "load_bad_header_length",
        "p = os.path.join(tmp, 'h.safetensors'); open(p, 'wb').write((2**60).to_bytes(8, 'little') + b'{}'); fd.load(p)",
        "ValueError",
        "load",
    ),
    (
        "save_missing_dir",
        "fd.save({'a': fd.ones(2)}, os.path.join(tmp, 'no', 'x.safetensors'))",
        "FileNotFoundError",
        "save",
    ),
    ("save_directory", "fd.save({'a': fd.ones(2)}, tmp)", "IsADirectoryError", "save"),
    (
        "save_lambda",
        "fd.save({'a': lambda: 1}, os.path.join(tmp, 'l.safetensors'))",
        "TypeError",
        "save",
    ),
    (
        "save_nested_ok",
        "p = os.path.join(tmp, 'n.safetensors'); fd.save({'a': {'b': [fd.ones(2), 3, 'x']}}, p); fd.load(p)",
        None,
        None,
    ),
    (
        "load_state_dict_missing",
        "m = nn.Linear(2, 2); m.load_state_dict({'weight': fd.zeros(2, 2)})",
        "RuntimeError",
        "load_state_dict",
    ),
    (
        "load_state_dict_shape",
        "m = nn.Linear(2, 2); m.load_state_dict({'weight': fd.zeros(3, 2), 'bias': fd.zeros(2)})",
        "RuntimeError",
        "load_state_dict",
    ),
    (
        "read_idx_missing",
        "fd.data.read_idx(os.path.join(tmp, 'none-idx3-ubyte'))",
        "FileNotFoundError",
        "read_idx",
    ),
    (
        "read_idx_magic",
        "p = os.path.join(tmp, 'bad-idx'); open(p, 'wb').write(b'\\x01\\x02\\x08\\x01' + bytes(8)); fd.data.read_idx(p)",
        "ValueError",
        "read_idx",
    ),
    (
        "read_cifar_missing",
        "fd.data.read_cifar_batch(os.path.join(tmp, 'data_batch_9'))",
        "FileNotFoundError",
        "read_cifar_batch",
    ),
    (
        "read_cifar_code",
        "import pickle, os as o; p = os.path.join(tmp, 'evil'); open(p, 'wb').write(pickle.dumps(o.system)); fd.data.read_cifar_batch(p)",
        "ValueError",
        "read_cifar_batch",
    ),
]:
    add("io", name, code, error, op)

# ------------------------------------------------------------------------------------ modules
for name, code, error, op in [
    ("Sequential_not_module", "nn.Sequential(5)", "TypeError", "add_module"),
    ("ModuleList_not_module", "nn.ModuleList([1])", "TypeError", "add_module"),
    ("add_module_dot", "nn.Module().add_module('a.b', nn.Linear(1, 1))", "KeyError", "add_module"),
    (
        "register_buffer_not_tensor",
        "nn.Module().register_buffer('b', 5)",
        "TypeError",
        "register_buffer",
    ),
    ("parameter_int", "nn.Parameter(fd.ones(3, dtype=fd.int64))", "RuntimeError", "requires_grad_"),
    ("Flatten_dims", "nn.Flatten(3, 1)(fd.randn(2, 3, 4, 5))", "ValueError", "Flatten"),
    ("Unflatten_sizes", "nn.Unflatten(1, (2, 2))(fd.randn(3, 5))", "ValueError", "Unflatten"),
    (
        "PixelShuffle_channels",
        "nn.PixelShuffle(2)(fd.randn(1, 3, 4, 4))",
        "ValueError",
        "pixel_shuffle",
    ),
    (
        "Upsample_mode",
        "nn.Upsample(scale_factor=2, mode='bogus')(fd.randn(1, 1, 2, 2))",
        "ValueError",
        "interpolate",
    ),
    ("PReLU_params", "nn.PReLU(3)(fd.randn(2, 4))", "ValueError", "prelu"),
    ("GLU_odd", "F.glu(fd.randn(2, 3))", "ValueError", "glu"),
    ("Softmax_dim", "nn.Softmax(dim=3)(fd.randn(2, 3))", "IndexError", "softmax"),
    (
        "ConvTranspose2d_groups",
        "nn.ConvTranspose2d(4, 6, 3, groups=4)",
        "ValueError",
        "ConvTranspose2d",
    ),
    ("LayerNorm_forward", "nn.LayerNorm(5)(fd.randn(2, 4))", "ValueError", "layer_norm"),
    ("GroupNorm_divide", "nn.GroupNorm(4, 6)", "ValueError", "GroupNorm"),
    (
        "Transformer_d_model",
        "nn.Transformer(d_model=10, nhead=3)",
        "ValueError",
        "MultiheadAttention",
    ),
    (
        "state_dict_strict",
        "m = nn.Linear(2, 2); m.load_state_dict({'weight': fd.zeros(2, 2), 'bias': fd.zeros(2), 'x': fd.ones(1)})",
        "RuntimeError",
        "load_state_dict",
    ),
]:
    add("module", name, code, error, op)

# ------------------------------------------------------------------------------------ distributed
# A world of one (the worker is not started by an MPI launcher). Cases share a worker process:
# FRESH leaves no process group behind, INIT makes sure there is one.
FRESH = (
    "import pyfastdl.distributed as dist\nif dist.is_initialized(): dist.destroy_process_group()\n"
)
INIT = (
    "import pyfastdl.distributed as dist\nif not dist.is_initialized(): dist.init_process_group()\n"
)
for name, code, error, op in [
    (
        "rank_before_init",
        FRESH + "dist.get_rank()",
        "ValueError",
        "get_rank",
    ),
    ("init_twice", INIT + "dist.init_process_group()", "RuntimeError", "init_process_group"),
    (
        "backend",
        FRESH + "dist.init_process_group('ucc')",
        "ValueError",
        "init_process_group",
    ),
    (
        "world_size",
        FRESH + "dist.init_process_group(world_size=4)",
        "RuntimeError",
        "init_process_group",
    ),
    (
        "timeout_zero",
        FRESH + "dist.init_process_group(timeout=0)",
        "ValueError",
        "init_process_group",
    ),
    ("all_reduce_array", INIT + "dist.all_reduce(np.ones(3))", "TypeError", "all_reduce"),
    ("all_reduce_op", INIT + "dist.all_reduce(fd.ones(3), op='mean')", "ValueError", "all_reduce"),
    (
        "avg_int",
        INIT + "dist.all_reduce(fd.arange(3), op=dist.ReduceOp.AVG)",
        "TypeError",
        "all_reduce",
    ),
    ("broadcast_src", INIT + "dist.broadcast(fd.ones(3), src=5)", "ValueError", "broadcast"),
    ("broadcast_src_float", INIT + "dist.broadcast(fd.ones(3), src=0.0)", "TypeError", "broadcast"),
    ("all_gather_list", INIT + "dist.all_gather([], fd.ones(3))", "ValueError", "all_gather"),
    (
        "all_gather_dtype",
        INIT + "dist.all_gather([fd.zeros(3, dtype=fd.int64)], fd.ones(3))",
        "TypeError",
        "all_gather",
    ),
    (
        "gather_into",
        INIT + "dist.all_gather_into_tensor(fd.zeros(2, 3), fd.ones(3))",
        "ValueError",
        "all_gather_into_tensor",
    ),
    (
        "reduce_scatter_shape",
        INIT + "dist.reduce_scatter(fd.zeros(2), [fd.ones(3)])",
        "ValueError",
        "reduce_scatter",
    ),
    (
        "a2a_splits",
        INIT + "dist.all_to_all_single(fd.zeros(4), fd.ones(4), [1, 2])",
        "ValueError",
        "all_to_all_single",
    ),
    ("expanded", INIT + "dist.all_reduce(fd.ones(1).expand(4))", "RuntimeError", "all_reduce"),
    ("send_self", INIT + "dist.send(fd.ones(2), dst=0)", "ValueError", "send"),
    (
        "ddp_module",
        INIT + "nn.parallel.DistributedDataParallel(fd.ones(2))",
        "TypeError",
        "DistributedDataParallel",
    ),
    (
        "ddp_bucket",
        INIT + "nn.parallel.DistributedDataParallel(nn.Linear(2, 2), bucket_cap_mb=-1)",
        "ValueError",
        "DistributedDataParallel",
    ),
    (
        "ddp_unused",
        INIT + "class TwoHeads(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__(); self.a = nn.Linear(2, 2); self.b = nn.Linear(2, 2)\n"
        "    def forward(self, x):\n"
        "        return self.a(x)  # b unused, and find_unused_parameters not set\n"
        "nn.parallel.DistributedDataParallel(TwoHeads())(fd.ones(1, 2)).sum().backward()",
        "RuntimeError",
        "DistributedDataParallel",
    ),
    ("sync_bn_1d", INIT + "nn.SyncBatchNorm(3).train()(fd.ones(3))", "ValueError", "SyncBatchNorm"),
    (
        "sampler_rank",
        "from pyfastdl.utils.data import DistributedSampler; DistributedSampler(range(4), num_replicas=2, rank=2)",
        "ValueError",
        "DistributedSampler",
    ),
    (
        "sampler_no_group",
        FRESH + "from pyfastdl.utils.data import DistributedSampler; DistributedSampler(range(4))",
        "ValueError",
        "DistributedSampler",
    ),
]:
    add("distributed", name, code, error, op)
