// The batch normalization kernels (see the CNN-stack issue); filled in by their family's change.
