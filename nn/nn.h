#pragma once
// The nn module's public header: Module (module.h), the layers (layers.h), their functional forms
// (functional.h), initialisers (init.h) and checkpoints (checkpoint.h).
#include "nn/checkpoint.h"
#include "nn/functional.h"
#include "nn/init.h"
#include "nn/layers.h"
#include "nn/module.h"
