// fused flash-style attention, forward and backward (placeholder: being written).
