// The Python module of one emulated family: emu_make_module(name, bind_<family>) creates module
// `name`, adds the emulator's controls and lets the family's binding (cuda/bind_<family>.cpp,
// unchanged) define its ops. build.py compiles this file once; each family's PyInit_emu_<family>
// is a one-line file without pybind11 headers that calls it, so only the family's own sources
// are compiled per family.
//
// Controls: _emu_set_order(order) (bit 0: threads and blocks in descending order, bit 1: warps
// leaving a collective run ahead of the others; see emu/scheduler.h),
// _emu_order(), _emu_stats() (launches, blocks, threads, allocations, live_allocations,
// live_bytes).
#include <pybind11/pybind11.h>

#include "emu/runtime_stats.h"
#include "emu/scheduler.h"

namespace py = pybind11;

extern "C" PyObject* emu_make_module(const char* name, void (*bind)(py::module_&)) {
  py::detail::get_internals();
  try {
    auto m = py::module_::create_extension_module(name, nullptr, new PyModuleDef());
    m.attr("_emu") = true;
    m.def("_emu_set_order", [](int order) { emu::set_order(order); }, py::arg("order"));
    m.def("_emu_order", [] { return emu::order(); });
    m.def("_emu_stats", [] {
      const emu::Stats s = emu::stats();
      py::dict d;
      d["launches"] = s.launches;
      d["blocks"] = s.blocks;
      d["threads"] = s.threads;
      d["allocations"] = s.allocations;
      d["live_allocations"] = s.live_allocations;
      d["live_bytes"] = s.live_bytes;
      return d;
    });
    bind(m);
    return m.release().ptr();
  } catch (py::error_already_set& e) {
    e.restore();
    return nullptr;
  } catch (const std::exception& e) {
    PyErr_SetString(PyExc_ImportError, e.what());
    return nullptr;
  }
}
