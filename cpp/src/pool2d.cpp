// The pooling, pixel shuffle, interpolation and padding kernels (see the CNN-stack issue); filled in by their family's change.
