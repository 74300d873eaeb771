// layer normalization, forward and backward (placeholder: being written).
