// fused flash-style attention, forward and backward: the AVX512 path (placeholder: being written).
