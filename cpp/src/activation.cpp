// elementwise activations (GELU exact and tanh), forward and backward (placeholder: being written).
