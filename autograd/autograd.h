#pragma once
// The autograd module's public header: Var and the tape (var.h), the differentiable ops (ops.h) and the
// numerical gradient checker (gradcheck.h).
#include "autograd/gradcheck.h"
#include "autograd/ops.h"
#include "autograd/var.h"
