#pragma once
#include <stdexcept>
#include <string>

namespace mt {

// The one exception type of the project: every failure it reports (a shape mismatch, a bad file,
// a wrong option) is an mt::Error whose message says which operation or file and what was wrong.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace mt
