// layer normalization, forward and backward: the AVX512 path (placeholder: being written).
