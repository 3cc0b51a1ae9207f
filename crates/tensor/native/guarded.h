// Error reporting shared by the extension's entry points: a C++ exception becomes a malloc'd message in
// `char** err` (freed by the caller with shift_free_error), so none crosses into Rust.
#pragma once

#include <cstring>
#include <exception>

namespace shift {

inline void set_error(char** err, const char* msg) {
  if (err != nullptr) {
    *err = strdup(msg);
  }
}

// Runs `f`; a C++ exception becomes -1 with *err set.
template <typename F>
int guarded(char** err, F&& f) {
  try {
    f();
    return 0;
  } catch (const std::exception& e) {
    set_error(err, e.what());
    return -1;
  }
}

}  // namespace shift
