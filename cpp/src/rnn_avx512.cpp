// recurrent cells: fused RNN/LSTM/GRU gate arithmetic, forward and backward: the AVX512 path (placeholder: being written).
