// elementwise activations (GELU exact and tanh), forward and backward: the AVX512 path (placeholder: being written).
