// fused flash-style attention, forward and backward: the AVX2 path (placeholder: being written).
