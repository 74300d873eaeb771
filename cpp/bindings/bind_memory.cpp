// The array buffer cache (pyfastdl/array_cache.h) as NumPy's data allocator.
//
// NumPy (1.22+) allocates array data through a "mem_handler" capsule holding a
// PyDataMem_Handler: a name, a version and four functions. PyDataMem_SetHandler installs one
// for the calling context (a contextvar: the thread, or the asyncio task, that imports
// pyfastdl), and every array remembers the handler it was allocated by, so arrays allocated
// before keep freeing through NumPy's own. The handler here sends large requests to the cache and
// everything else, and the cache's misses, to the handler it replaces (NumPy's default: its
// small-block cache and huge pages stay as they were). The two functions are taken from NumPy's
// C-API table by index (numpy_api.py: stable since 1.22), so building needs no NumPy headers.
#include <pybind11/pybind11.h>

#include <cstdint>

#include "bindings.h"
#include "common.h"
#include "pyfastdl/array_cache.h"

namespace pyfastdl::bind {
namespace {

// numpy/ndarraytypes.h's PyDataMem_Handler, version 1 (PyDataMemAllocator == BackingAllocator).
struct NumpyHandler {
  char name[127];
  uint8_t version;
  BackingAllocator allocator;
};

constexpr int kSetHandler = 304;  // PyObject* PyDataMem_SetHandler(PyObject* handler)
constexpr int kGetHandler = 305;  // PyObject* PyDataMem_GetHandler(void)
constexpr const char* kCapsuleName = "mem_handler";

void* cache_malloc(void*, size_t size) { return array_cache::allocate(size); }
void* cache_calloc(void*, size_t nelem, size_t elsize) {
  return array_cache::allocate_zeroed(nelem, elsize);
}
void* cache_realloc(void*, void* ptr, size_t size) { return array_cache::reallocate(ptr, size); }
void cache_free(void*, void* ptr, size_t size) { array_cache::release(ptr, size); }

NumpyHandler handler = {
    "pyfastdl_array_cache", 1, {nullptr, cache_malloc, cache_calloc, cache_realloc, cache_free}};
PyObject* handler_capsule = nullptr;  // created once, never freed (arrays hold references)
// The handler the first install replaced: the cache's one backing allocator, kept for good. A
// context with another handler in force is left alone (its blocks and the cache's would
// otherwise be freed by the wrong allocator).
PyObject* backing_capsule = nullptr;

// NumPy's C-API table, or nullptr.
void** numpy_api() {
  for (const char* name : {"numpy._core._multiarray_umath", "numpy.core._multiarray_umath"}) {
    try {
      py::object table = py::module_::import(name).attr("_ARRAY_API");
      return static_cast<void**>(PyCapsule_GetPointer(table.ptr(), nullptr));
    } catch (py::error_already_set&) {
      PyErr_Clear();
    }
  }
  return nullptr;
}

// Installs the cache for the calling context; false when NumPy's handler API is missing, or the
// handler in force is not one of version 1 or not the one the first install replaced.
bool install() {
  void** api = numpy_api();
  if (api == nullptr) return false;
  auto get_handler = reinterpret_cast<PyObject* (*)()>(api[kGetHandler]);
  auto set_handler = reinterpret_cast<PyObject* (*)(PyObject*)>(api[kSetHandler]);
  PyObject* current = get_handler();  // a new reference
  if (current == nullptr) throw py::error_already_set();
  if (current == handler_capsule) {
    Py_DECREF(current);
    return true;
  }
  if (backing_capsule != nullptr && current != backing_capsule) {
    Py_DECREF(current);
    return false;
  }
  auto* backing = static_cast<NumpyHandler*>(PyCapsule_GetPointer(current, kCapsuleName));
  if (backing == nullptr || backing->version != 1) {
    PyErr_Clear();
    Py_DECREF(current);
    return false;
  }
  if (backing_capsule == nullptr) {
    // The handler replaced serves the cache's misses: its reference is kept for good.
    array_cache::set_backing(backing->allocator);
    backing_capsule = current;
  } else {
    Py_DECREF(current);
  }
  if (handler_capsule == nullptr) {
    handler_capsule = PyCapsule_New(&handler, kCapsuleName, nullptr);
    if (handler_capsule == nullptr) throw py::error_already_set();
  }
  PyObject* previous = set_handler(handler_capsule);
  if (previous == nullptr) throw py::error_already_set();
  Py_DECREF(previous);
  return true;
}

}  // namespace

void bind_memory(py::module_& m) {
  m.def("array_cache_install", &install,
        "Makes the array buffer cache NumPy's data allocator in the calling context; False "
        "when this NumPy has no allocator API.");
  m.def(
      "array_cache_set_limit",
      [](int64_t bytes) {
        if (bytes < 0) fail_value("array_cache_set_limit", "expected bytes >= 0, got ", bytes);
        array_cache::set_limit(bytes);
      },
      py::arg("bytes"));
  m.def("array_cache_clear", &array_cache::clear, "Releases every cached block.");
  m.def("array_cache_stats", [] {
    const ArrayCacheStats s = array_cache::stats();
    py::dict d;
    d["hits"] = s.hits;
    d["misses"] = s.misses;
    d["cached_bytes"] = s.cached_bytes;
    d["cached_blocks"] = s.cached_blocks;
    d["limit_bytes"] = s.limit_bytes;
    return d;
  });
}

}  // namespace pyfastdl::bind
