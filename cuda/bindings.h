// One registration function per kernel family of the CUDA module; module.cpp calls them all.
// Each binds the family's ops under the names and signatures of the CPU module (pyfastdl._C),
// plus a keyword `stream` (the cudaStream_t to launch on, as an integer).
#pragma once

#include <pybind11/pybind11.h>

namespace pyfastdl::cuda_bind {
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
}  // namespace pyfastdl::cuda_bind
