// recurrent cells: fused RNN/LSTM/GRU gate arithmetic, forward and backward: the AVX2 path (placeholder: being written).
