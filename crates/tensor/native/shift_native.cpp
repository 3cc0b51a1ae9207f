// shift's native libtorch extension: autograd functions tch cannot express (a custom backward), runtime facts
// and switches that tch does not expose. Every entry point catches C++ exceptions and reports them through
// `char** err` (a malloc'd message the caller frees with shift_free_error), so no exception crosses into Rust.

#include <torch/torch.h>
#include <torch/version.h>
#include <ATen/Context.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <cstdlib>
#include <cstring>
#include <string>

#include "guarded.h"

#ifdef SHIFT_WITH_CUDA
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime_api.h>
#include <optional>
// Declared here rather than through ATen/cuda/CUDAContext.h, which pulls in cuBLAS/cuSPARSE headers (and CCCL)
// that the PyPI CUDA wheels do not all ship. The symbol lives in libtorch_cuda.
namespace at::cuda {
cudaDeviceProp* getDeviceProperties(c10::DeviceIndex device);
}
#endif

namespace {

using shift::guarded;
using shift::set_error;

#ifndef SHIFT_WITH_CUDA
const char kNoCuda[] = "shift was built against a libtorch without CUDA";
#endif

// Gradient reversal layer (Ganin & Lempitsky, "Unsupervised Domain Adaptation by Backpropagation", ICML 2015):
// identity forward, gradient multiplied by -lambda backward. One autograd node.
struct GradReverse : public torch::autograd::Function<GradReverse> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, double lambda) {
    ctx->saved_data["lambda"] = lambda;
    return x.view_as(x);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad) {
    const double lambda = ctx->saved_data["lambda"].toDouble();
    return {grad[0].mul(-lambda), at::Tensor()};
  }
};

// The same layer with lambda held in a (0-dim) tensor, so a schedule can update it on the device without
// rebuilding the graph (needed for CUDA-graph replay, where host scalars are frozen at capture).
struct GradReverseScaled : public torch::autograd::Function<GradReverseScaled> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, const at::Tensor& lambda) {
    // saved_data, not save_for_backward: the schedule updates lambda in place between forward and backward,
    // which the saved-variable version check would refuse.
    ctx->saved_data["lambda"] = lambda;
    return x.view_as(x);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad) {
    const auto lambda = ctx->saved_data["lambda"].toTensor();
    return {grad[0].mul(lambda.neg()), at::Tensor()};
  }
};

#ifdef SHIFT_WITH_CUDA
// A side stream for one captured step: its warm-up steps and its capture run there (libtorch refuses to capture
// on the default stream; warming up on the capture stream itself means cuBLAS/cuDNN set up their per-stream state
// before capture, not during it). While entered it is the current stream, so every op issued from Rust goes to
// it; entering and leaving wait for the device, so it is ordered against the default stream without events.
// (No CUDAStreamGuard or CUDAEvent: their inline code calls the CUDA runtime directly, which would add
// libcudart to the link.)
struct ShiftStream {
  c10::cuda::CUDAStream stream;
  std::optional<c10::cuda::CUDAStream> previous;

  explicit ShiftStream(c10::DeviceIndex index)
      : stream(c10::cuda::getStreamFromPool(/*isHighPriority=*/false, index)) {}

  void enter() {
    c10::cuda::device_synchronize();
    previous = c10::cuda::getCurrentCUDAStream(stream.device_index());
    c10::cuda::setCurrentCUDAStream(stream);
  }

  void leave() {
    if (previous) {
      c10::cuda::setCurrentCUDAStream(*previous);
      previous.reset();
    }
  }
};
#endif

}  // namespace

extern "C" {

void shift_free_error(char* err) { std::free(err); }

at::Tensor* shift_grad_reverse(const at::Tensor* x, double lambda, char** err) {
  try {
    return new at::Tensor(GradReverse::apply(*x, lambda));
  } catch (const std::exception& e) {
    set_error(err, e.what());
    return nullptr;
  }
}

at::Tensor* shift_grad_reverse_scaled(const at::Tensor* x, const at::Tensor* lambda, char** err) {
  try {
    return new at::Tensor(GradReverseScaled::apply(*x, lambda->detach()));
  } catch (const std::exception& e) {
    set_error(err, e.what());
    return nullptr;
  }
}

int shift_set_deterministic(int on, char** err) {
  try {
    auto& ctx = at::globalContext();
    // warn_only: use the deterministic kernel wherever libtorch has one, warn where it has none.
    ctx.setDeterministicAlgorithms(on != 0, /*warn_only=*/true);
    ctx.setDeterministicCuDNN(on != 0);
    ctx.setBenchmarkCuDNN(on == 0);
    return 0;
  } catch (const std::exception& e) {
    set_error(err, e.what());
    return -1;
  }
}

const char* shift_torch_version() { return TORCH_VERSION; }

int shift_built_with_cuda() {
#ifdef SHIFT_WITH_CUDA
  return 1;
#else
  return 0;
#endif
}

// Whether libtorch's CUDA half (libtorch_cuda) is loaded: its hooks are registered, GPU or not.
int shift_cuda_hooks_built() {
  try {
    return at::detail::getCUDAHooks().isBuilt() ? 1 : 0;
  } catch (const std::exception&) {
    return 0;
  }
}

long shift_cudnn_version() {
  try {
    const auto& hooks = at::detail::getCUDAHooks();
    return hooks.hasCuDNN() ? hooks.versionCuDNN() : 0;
  } catch (const std::exception&) {
    return 0;
  }
}

// Writes the CUDA device's name into a malloc'd string (*out). Returns 0, or -1 with *err set.
int shift_cuda_device_name(int index, char** out, char** err) {
#ifdef SHIFT_WITH_CUDA
  try {
    const auto* props = at::cuda::getDeviceProperties(index);
    *out = strdup(props->name);
    return 0;
  } catch (const std::exception& e) {
    set_error(err, e.what());
    return -1;
  }
#else
  set_error(err, kNoCuda);
  return -1;
#endif
}

// Points a parameter's .grad at `grad` (e.g. a view into one flat gradient buffer). Backward then accumulates
// into that memory in place, as long as the gradient is zeroed rather than reset.
int shift_set_grad(const at::Tensor* param, const at::Tensor* grad, char** err) {
  return guarded(err, [&] {
    TORCH_CHECK(param->sizes() == grad->sizes(), "gradient shape ", grad->sizes(), " differs from the parameter's ",
                param->sizes());
    TORCH_CHECK(param->dtype() == grad->dtype() && param->device() == grad->device(),
                "gradient dtype/device differ from the parameter's");
    param->mutable_grad() = *grad;
  });
}

// CUDA graphs (at::cuda::CUDAGraph): capture the ops issued between begin and end, replay them as one launch.
#ifdef SHIFT_WITH_CUDA
void* shift_stream_new(int device, char** err) {
  ShiftStream* s = nullptr;
  guarded(err, [&] { s = new ShiftStream(static_cast<c10::DeviceIndex>(device)); });
  return s;
}

void shift_stream_free(void* s) { delete static_cast<ShiftStream*>(s); }

// Waits for the device and makes the side stream current.
int shift_stream_enter(void* s, char** err) {
  auto* ss = static_cast<ShiftStream*>(s);
  const int rc = guarded(err, [&] { ss->enter(); });
  if (rc != 0) {
    ss->leave();
  }
  return rc;
}

// Waits for the device and makes the previous stream current again.
int shift_stream_leave(void* s, char** err) {
  auto* ss = static_cast<ShiftStream*>(s);
  const int rc = guarded(err, [] { c10::cuda::device_synchronize(); });
  ss->leave();
  return rc;
}

void* shift_graph_new(char** err) {
  at::cuda::CUDAGraph* g = nullptr;
  guarded(err, [&] { g = new at::cuda::CUDAGraph(); });
  return g;
}

void shift_graph_free(void* g) { delete static_cast<at::cuda::CUDAGraph*>(g); }

// Enters the side stream and begins capture on it.
int shift_graph_begin(void* g, void* s, char** err) {
  auto* ss = static_cast<ShiftStream*>(s);
  const int rc = guarded(err, [&] {
    ss->enter();
    static_cast<at::cuda::CUDAGraph*>(g)->capture_begin();
  });
  if (rc != 0) {
    ss->leave();
  }
  return rc;
}

// Ends capture and leaves the side stream (also after a failed capture, which is then reported).
int shift_graph_end(void* g, void* s, char** err) {
  const int rc = guarded(err, [&] { static_cast<at::cuda::CUDAGraph*>(g)->capture_end(); });
  static_cast<ShiftStream*>(s)->leave();
  return rc != 0 ? rc : guarded(err, [] { c10::cuda::device_synchronize(); });
}

// Launches the captured work on the current stream.
int shift_graph_replay(void* g, char** err) {
  return guarded(err, [&] { static_cast<at::cuda::CUDAGraph*>(g)->replay(); });
}
#else
void* shift_stream_new(int, char** err) {
  set_error(err, kNoCuda);
  return nullptr;
}
void shift_stream_free(void*) {}
int shift_stream_enter(void*, char** err) {
  set_error(err, kNoCuda);
  return -1;
}
int shift_stream_leave(void*, char** err) {
  set_error(err, kNoCuda);
  return -1;
}
void* shift_graph_new(char** err) {
  set_error(err, kNoCuda);
  return nullptr;
}
void shift_graph_free(void*) {}
int shift_graph_begin(void*, void*, char** err) {
  set_error(err, kNoCuda);
  return -1;
}
int shift_graph_end(void*, void*, char** err) {
  set_error(err, kNoCuda);
  return -1;
}
int shift_graph_replay(void*, char** err) {
  set_error(err, kNoCuda);
  return -1;
}
#endif

}  // extern "C"
