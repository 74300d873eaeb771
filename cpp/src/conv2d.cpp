// The conv2d and conv_transpose2d kernels (see the CNN-stack issue); filled in by their family's change.
