// layer normalization, forward and backward: the AVX2 path (placeholder: being written).
