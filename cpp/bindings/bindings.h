// One registration function per kernel family; module.cpp calls them all.
#pragma once

#include <pybind11/pybind11.h>

namespace pyfastdl::bind {
void bind_system(pybind11::module_& m);      // CPU path, threads, machine limits
void bind_gemm(pybind11::module_& m);        // gemm
void bind_softmax(pybind11::module_& m);     // softmax, log_softmax, cross_entropy
void bind_conv2d(pybind11::module_& m);      // conv2d forward, backward input and weight
void bind_pool2d(pybind11::module_& m);      // max/avg/adaptive pooling, upsampling
void bind_batchnorm(pybind11::module_& m);   // batch normalization
void bind_attention(pybind11::module_& m);   // fused attention forward/backward
void bind_layernorm(pybind11::module_& m);   // layer normalization
void bind_embedding(pybind11::module_& m);   // embedding lookup and backward
void bind_activation(pybind11::module_& m);  // GELU (exact and tanh)
void bind_rnn(pybind11::module_& m);         // RNN/LSTM/GRU cells and whole layers
void bind_optimizer(pybind11::module_& m);   // fused SGD and Adam/AdamW steps
void bind_memory(pybind11::module_& m);      // the array buffer cache (NumPy's allocator)
}  // namespace pyfastdl::bind
