// One registration function per kernel family; module.cpp calls them all.
#pragma once

#include <pybind11/pybind11.h>

namespace pyfastdl::bind {
void bind_system(pybind11::module_& m);     // CPU path, threads, machine limits
void bind_gemm(pybind11::module_& m);       // gemm
void bind_softmax(pybind11::module_& m);    // softmax, log_softmax, cross_entropy
void bind_conv2d(pybind11::module_& m);     // conv2d, conv_transpose2d
void bind_pool2d(pybind11::module_& m);     // pooling, pixel shuffle, interpolation, padding
void bind_batchnorm(pybind11::module_& m);  // batch normalization
}  // namespace pyfastdl::bind
