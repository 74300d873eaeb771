// One registration function per kernel family; module.cpp calls them all.
#pragma once

#include <pybind11/pybind11.h>

namespace pyfastdl::bind {
void bind_system(pybind11::module_& m);      // CPU path, threads, machine limits
void bind_gemm(pybind11::module_& m);        // gemm
void bind_softmax(pybind11::module_& m);     // softmax, log_softmax, cross_entropy
void bind_conv2d(pybind11::module_& m);      // conv2d, conv_transpose2d
void bind_pool2d(pybind11::module_& m);      // pooling, pixel shuffle, interpolation, padding
void bind_batchnorm(pybind11::module_& m);   // batch normalization
void bind_attention(pybind11::module_& m);   // fused attention forward/backward
void bind_layernorm(pybind11::module_& m);   // layer normalization
void bind_embedding(pybind11::module_& m);   // embedding lookup and backward
void bind_activation(pybind11::module_& m);  // GELU and other activations
void bind_rnn(pybind11::module_& m);         // fused RNN/LSTM/GRU cells
}  // namespace pyfastdl::bind
