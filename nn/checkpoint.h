#pragma once
// Saving and loading a module's parameters and buffers (its state_dict()).
//
// The file is mt::save_tensors()'s (tensor/tensor_file.h), one tensor per state_dict() entry.
#include <filesystem>
#include <functional>
#include <string>

#include "nn/module.h"
#include "tensor/tensor_file.h"

namespace mt::nn {

// Writes the parameters of `module` to `path` atomically (mt::AtomicFile): streamed into a temporary file in
// the same directory, flushed to disk, then renamed over `path`, so a crash, a kill or a full disk leaves
// either the old file or the new one; no copy of the model is made in memory.
void save(const Module& module, const std::filesystem::path& path);

// Reads `path` into the parameters of `module`. Only a regular file is read (a FIFO or device is refused at
// once); its header is checked first, and the payload read only when the file has exactly the announced
// size and that size is at most twice what the module's tensors take. Then everything is checked (CRC,
// every name, dtype and shape against the module, every element finite) before any parameter is written:
// on an error the module is unchanged and the mt::Error names the file and what was wrong.
void load(Module& module, const std::filesystem::path& path);

// The same from tensors already read (a part of a training checkpoint): every entry of module.state_dict()
// must be in `state` with its dtype and shape and finite values, and nothing else; on an error the module is
// unchanged and the mt::Error starts with `where`.
void load_state_dict(Module& module, const NamedTensors& state, const std::string& where = "load_state_dict");
// Its checks, returning what then copies the tensors in (it cannot fail): so that a training checkpoint's
// model, optimizer and scheduler are all checked before any of them changes.
std::function<void()> check_state_dict(Module& module, const NamedTensors& state, const std::string& where);

}  // namespace mt::nn
