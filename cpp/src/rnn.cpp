// recurrent cells: fused RNN/LSTM/GRU gate arithmetic, forward and backward (placeholder: being written).
