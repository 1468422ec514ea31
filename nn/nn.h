#pragma once
// The nn module's public header: Module (module.h), the layers (layers.h; image layers in conv.h, batch norm in
// norm.h), their functional forms
// (functional.h), initialisers (init.h), checkpoints (checkpoint.h) and gradient clipping (clip_grad.h).
#include "nn/checkpoint.h"
#include "nn/clip_grad.h"
#include "nn/conv.h"
#include "nn/functional.h"
#include "nn/init.h"
#include "nn/layers.h"
#include "nn/module.h"
#include "nn/norm.h"
