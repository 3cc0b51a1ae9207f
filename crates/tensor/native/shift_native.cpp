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

#ifdef SHIFT_WITH_CUDA
#include <cuda_runtime_api.h>
// Declared here rather than through ATen/cuda/CUDAContext.h, which pulls in cuBLAS/cuSPARSE headers (and CCCL)
// that the PyPI CUDA wheels do not all ship. The symbol lives in libtorch_cuda.
namespace at::cuda {
cudaDeviceProp* getDeviceProperties(c10::DeviceIndex device);
}
#endif

namespace {

void set_error(char** err, const char* msg) {
  if (err != nullptr) {
    *err = strdup(msg);
  }
}

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
  set_error(err, "shift was built against a libtorch without CUDA");
  return -1;
#endif
}

}  // extern "C"
