// pyfastdl._C: the CPU kernels. Each family registers itself from its own bind_*.cpp.
#include "bindings.h"

PYBIND11_MODULE(_C, m) {
  m.doc() = "pyfastdl CPU kernels (C++, OpenMP, AVX-512/AVX2/portable paths chosen at run time)";
  pyfastdl::bind::bind_system(m);
  pyfastdl::bind::bind_gemm(m);
  pyfastdl::bind::bind_softmax(m);
  pyfastdl::bind::bind_conv2d(m);
  pyfastdl::bind::bind_pool2d(m);
  pyfastdl::bind::bind_batchnorm(m);
  pyfastdl::bind::bind_attention(m);
  pyfastdl::bind::bind_layernorm(m);
  pyfastdl::bind::bind_embedding(m);
  pyfastdl::bind::bind_activation(m);
  pyfastdl::bind::bind_rnn(m);
  pyfastdl::bind::bind_optimizer(m);
  pyfastdl::bind::bind_memory(m);
}
