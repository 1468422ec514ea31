#pragma once
// For tests of error messages: what f() threw as mt::Error, or "no error".
#include <string>

#include "tensor/error.h"

namespace mt::test {

template <class F>
std::string error_message(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace mt::test
