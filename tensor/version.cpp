#include "tensor/version.h"

namespace mt {

std::string_view version() { return MT_VERSION_STRING; }

}  // namespace mt
