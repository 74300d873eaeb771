// One registration function per kernel family; module.cpp calls them all.
#pragma once

#include <pybind11/pybind11.h>

namespace pyfastdl::bind {
void bind_system(pybind11::module_& m);   // CPU path, threads, machine limits
void bind_gemm(pybind11::module_& m);     // gemm
void bind_softmax(pybind11::module_& m);  // softmax, log_softmax, cross_entropy
}  // namespace pyfastdl::bind
