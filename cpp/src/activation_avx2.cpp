// elementwise activations (GELU exact and tanh), forward and backward: the AVX2 path (placeholder: being written).
