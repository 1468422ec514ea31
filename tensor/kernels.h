#pragma once
// The math on tensors: plain functions, no gradients (autograd/ builds on these). One header per family, each
// the reference of its kernels with one line and formula each.
#include "tensor/conv.h"
#include "tensor/elementwise.h"
#include "tensor/indexing.h"
#include "tensor/loss.h"
#include "tensor/matmul.h"
#include "tensor/norm.h"
#include "tensor/parallel.h"
#include "tensor/reduce.h"
#include "tensor/softmax.h"
