// ReLU followed by 2x2, stride-2 max pooling (the digit net's `max_pool2d(relu(conv(x)), 2)`) as one CPU kernel
// and one autograd node. libtorch's CPU path runs three passes over the convolution output (relu, a scalar
// NCHW pooling loop that is generic over kernel, stride, padding and dilation, and in backward a zero fill, a
// scatter and the relu mask); this runs one pass each way and keeps only a one-byte window position.
//
// Same function as libtorch, bit for bit: the forward value is relu(max of the window); the gradient goes to the
// window's first maximum (libtorch's `val > maxval || isnan(val)` scan, row by row) when that maximum is positive
// (or NaN, which relu passes and whose mask passes the gradient), to nothing otherwise; windows do not overlap, so
// each input element receives at most one gradient, as libtorch's scatter into zeros gives. Rows or columns left
// over by an odd height or width get zero gradient, as in libtorch's floor mode.

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "guarded.h"

namespace {

// The window position that receives no gradient: its maximum was not positive.
constexpr uint8_t kNone = 4;

// Input elements per parallel chunk, so small tensors stay on one thread.
constexpr int64_t kGrain = 32768;

inline bool takes(float v, float best) { return v > best || std::isnan(v); }

// One window, scalar: its relu'd maximum and where it sits (kNone when it is not positive).
inline void window(float a, float b, float c, float d, float* out, uint8_t* at) {
  float best = a;
  uint8_t k = 0;
  if (takes(b, best)) { best = b; k = 1; }
  if (takes(c, best)) { best = c; k = 2; }
  if (takes(d, best)) { best = d; k = 3; }
  const bool passes = best > 0.0f || std::isnan(best);
  *out = passes ? best : 0.0f;
  *at = passes ? k : kNone;
}

// One window's gradient, scalar, written to its four positions: to the maximum's (libtorch's scatter adds into
// zeros, so -0 arrives as +0), zero elsewhere.
inline void scatter(float g, uint8_t at, float* p0, float* p1, float* p2, float* p3) {
  const float v = g + 0.0f;
  *p0 = at == 0 ? v : 0.0f;
  *p1 = at == 1 ? v : 0.0f;
  *p2 = at == 2 ? v : 0.0f;
  *p3 = at == 3 ? v : 0.0f;
}

#if defined(__SSE2__)
inline __m128 select(__m128 mask, __m128 a, __m128 b) { return _mm_or_ps(_mm_and_ps(mask, a), _mm_andnot_ps(mask, b)); }
inline __m128 takes4(__m128 v, __m128 best) { return _mm_or_ps(_mm_cmpgt_ps(v, best), _mm_cmpunord_ps(v, v)); }

// The first maximum of four windows at once (lanes: windows; tl..br: their four positions in scan order), relu'd,
// with its position: SSE2, branch free (the maxima of random data mispredict every other compare).
inline void first_max4(__m128 tl, __m128 tr, __m128 bl, __m128 br, float* out, uint8_t* at) {
  __m128 best = tl;
  __m128 k = _mm_setzero_ps();  // positions as int32 lanes in float registers
  __m128 m = takes4(tr, best);
  best = select(m, tr, best);
  k = select(m, _mm_castsi128_ps(_mm_set1_epi32(1)), k);
  m = takes4(bl, best);
  best = select(m, bl, best);
  k = select(m, _mm_castsi128_ps(_mm_set1_epi32(2)), k);
  m = takes4(br, best);
  best = select(m, br, best);
  k = select(m, _mm_castsi128_ps(_mm_set1_epi32(3)), k);
  const __m128 passes = _mm_or_ps(_mm_cmpgt_ps(best, _mm_setzero_ps()), _mm_cmpunord_ps(best, best));
  _mm_storeu_ps(out, _mm_and_ps(passes, best));
  const __m128i kk = _mm_castps_si128(select(passes, k, _mm_castsi128_ps(_mm_set1_epi32(kNone))));
  const __m128i bytes = _mm_packus_epi16(_mm_packs_epi32(kk, kk), _mm_setzero_si128());
  const int32_t packed = _mm_cvtsi128_si32(bytes);
  std::memcpy(at, &packed, 4);
}

// NCHW: four neighbouring windows of the row pair (r0, r1) starting at column 2j (deinterleaved from 2 x 8 inputs).
inline void windows4(const float* r0, const float* r1, float* out, uint8_t* at) {
  const __m128 t0 = _mm_loadu_ps(r0), t1 = _mm_loadu_ps(r0 + 4);
  const __m128 b0 = _mm_loadu_ps(r1), b1 = _mm_loadu_ps(r1 + 4);
  first_max4(_mm_shuffle_ps(t0, t1, _MM_SHUFFLE(2, 0, 2, 0)), _mm_shuffle_ps(t0, t1, _MM_SHUFFLE(3, 1, 3, 1)),
             _mm_shuffle_ps(b0, b1, _MM_SHUFFLE(2, 0, 2, 0)), _mm_shuffle_ps(b0, b1, _MM_SHUFFLE(3, 1, 3, 1)), out,
             at);
}

// The gradient of four windows split by position: lane i of `pos[k]` is the gradient if window i's maximum sits
// at position k, else +0.
struct Split4 {
  __m128 pos[4];
};

inline Split4 split4(const float* g, const uint8_t* at) {
  int32_t packed;
  std::memcpy(&packed, at, 4);
  const __m128i zero = _mm_setzero_si128();
  const __m128i k = _mm_unpacklo_epi16(_mm_unpacklo_epi8(_mm_cvtsi32_si128(packed), zero), zero);
  const __m128 v = _mm_add_ps(_mm_loadu_ps(g), _mm_setzero_ps());  // -0 as +0, as in `scatter`
  Split4 s;
  for (int i = 0; i < 4; ++i) {
    s.pos[i] = _mm_and_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(k, _mm_set1_epi32(i))), v);
  }
  return s;
}

// NCHW: the gradient of four neighbouring windows written into their 2 x 8 input block.
inline void scatter4(const float* g, const uint8_t* at, float* r0, float* r1) {
  const Split4 s = split4(g, at);
  _mm_storeu_ps(r0, _mm_unpacklo_ps(s.pos[0], s.pos[1]));
  _mm_storeu_ps(r0 + 4, _mm_unpackhi_ps(s.pos[0], s.pos[1]));
  _mm_storeu_ps(r1, _mm_unpacklo_ps(s.pos[2], s.pos[3]));
  _mm_storeu_ps(r1 + 4, _mm_unpackhi_ps(s.pos[2], s.pos[3]));
}
constexpr int64_t kLanes = 4;
#endif

// NCHW (contiguous): parallel over planes, a row pair at a time.
at::Tensor forward_nchw(const at::Tensor& x, at::Tensor& where) {
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  const int64_t oh = h / 2, ow = w / 2, planes = n * c;
  at::Tensor out = at::empty({n, c, oh, ow}, x.options());
  where = at::empty({n, c, oh, ow}, x.options().dtype(at::kByte));
  const float* src = x.data_ptr<float>();
  float* dst = out.data_ptr<float>();
  uint8_t* pos = where.data_ptr<uint8_t>();
  const int64_t grain = std::max<int64_t>(1, kGrain / std::max<int64_t>(1, h * w));
  at::parallel_for(0, planes, grain, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      const float* plane = src + p * h * w;
      float* o = dst + p * oh * ow;
      uint8_t* q = pos + p * oh * ow;
      for (int64_t i = 0; i < oh; ++i) {
        const float* r0 = plane + 2 * i * w;
        const float* r1 = r0 + w;
        int64_t j = 0;
#if defined(__SSE2__)
        for (; j + kLanes <= ow; j += kLanes) {
          windows4(r0 + 2 * j, r1 + 2 * j, o + i * ow + j, q + i * ow + j);
        }
#endif
        for (; j < ow; ++j) {
          window(r0[2 * j], r0[2 * j + 1], r1[2 * j], r1[2 * j + 1], o + i * ow + j, q + i * ow + j);
        }
      }
    }
  });
  return out;
}

at::Tensor backward_nchw(const at::Tensor& grad_output, const at::Tensor& where, at::IntArrayRef input_sizes) {
  const at::Tensor g = grad_output.contiguous();
  const int64_t h = input_sizes[2], w = input_sizes[3];
  const int64_t oh = h / 2, ow = w / 2, planes = input_sizes[0] * input_sizes[1];
  at::Tensor grad_input = at::empty(input_sizes, g.options());
  const float* gsrc = g.data_ptr<float>();
  const uint8_t* pos = where.data_ptr<uint8_t>();
  float* dst = grad_input.data_ptr<float>();
  const int64_t grain = std::max<int64_t>(1, kGrain / std::max<int64_t>(1, h * w));
  at::parallel_for(0, planes, grain, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      const float* gp = gsrc + p * oh * ow;
      const uint8_t* q = pos + p * oh * ow;
      float* plane = dst + p * h * w;
      for (int64_t i = 0; i < oh; ++i) {
        float* r0 = plane + 2 * i * w;
        float* r1 = r0 + w;
        int64_t j = 0;
#if defined(__SSE2__)
        for (; j + kLanes <= ow; j += kLanes) {
          scatter4(gp + i * ow + j, q + i * ow + j, r0 + 2 * j, r1 + 2 * j);
        }
#endif
        for (; j < ow; ++j) {
          scatter(gp[i * ow + j], q[i * ow + j], r0 + 2 * j, r0 + 2 * j + 1, r1 + 2 * j, r1 + 2 * j + 1);
        }
        if (w % 2 != 0) {
          r0[w - 1] = 0.0f;
          r1[w - 1] = 0.0f;
        }
      }
      if (h % 2 != 0) {
        std::fill(plane + (h - 1) * w, plane + h * w, 0.0f);
      }
    }
  });
  return grad_input;
}

// NHWC (channels last, what oneDNN's convolutions give for channels-last input): parallel over output rows, the
// four positions of a window are four runs of C channels, four channels at a time.
at::Tensor forward_nhwc(const at::Tensor& x, at::Tensor& where) {
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  const int64_t oh = h / 2, ow = w / 2;
  at::Tensor out = at::empty({n, c, oh, ow}, x.options().memory_format(at::MemoryFormat::ChannelsLast));
  where = at::empty({n, oh, ow, c}, x.options().dtype(at::kByte));
  const float* src = x.data_ptr<float>();
  float* dst = out.data_ptr<float>();
  uint8_t* pos = where.data_ptr<uint8_t>();
  const int64_t grain = std::max<int64_t>(1, kGrain / std::max<int64_t>(1, 2 * w * c));
  at::parallel_for(0, n * oh, grain, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const int64_t b = row / oh, i = row % oh;
      const float* r0 = src + ((b * h + 2 * i) * w) * c;
      const float* r1 = r0 + w * c;
      for (int64_t j = 0; j < ow; ++j) {
        const float *p0 = r0 + 2 * j * c, *p1 = p0 + c, *p2 = r1 + 2 * j * c, *p3 = p2 + c;
        float* o = dst + (row * ow + j) * c;
        uint8_t* q = pos + (row * ow + j) * c;
        int64_t k = 0;
#if defined(__SSE2__)
        for (; k + kLanes <= c; k += kLanes) {
          first_max4(_mm_loadu_ps(p0 + k), _mm_loadu_ps(p1 + k), _mm_loadu_ps(p2 + k), _mm_loadu_ps(p3 + k), o + k,
                     q + k);
        }
#endif
        for (; k < c; ++k) {
          window(p0[k], p1[k], p2[k], p3[k], o + k, q + k);
        }
      }
    }
  });
  return out;
}

at::Tensor backward_nhwc(const at::Tensor& grad_output, const at::Tensor& where, at::IntArrayRef input_sizes) {
  const at::Tensor g = grad_output.contiguous(at::MemoryFormat::ChannelsLast);
  const int64_t n = input_sizes[0], c = input_sizes[1], h = input_sizes[2], w = input_sizes[3];
  const int64_t oh = h / 2, ow = w / 2;
  at::Tensor grad_input = at::empty(input_sizes, g.options().memory_format(at::MemoryFormat::ChannelsLast));
  const float* gsrc = g.data_ptr<float>();
  const uint8_t* pos = where.data_ptr<uint8_t>();
  float* dst = grad_input.data_ptr<float>();
  // Rows and columns an odd size leaves over get no gradient.
  if (h % 2 != 0) {
    for (int64_t b = 0; b < n; ++b) {
      float* last = dst + ((b * h + h - 1) * w) * c;
      std::fill(last, last + w * c, 0.0f);
    }
  }
  const int64_t grain = std::max<int64_t>(1, kGrain / std::max<int64_t>(1, 2 * w * c));
  at::parallel_for(0, n * oh, grain, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const int64_t b = row / oh, i = row % oh;
      float* r0 = dst + ((b * h + 2 * i) * w) * c;
      float* r1 = r0 + w * c;
      for (int64_t j = 0; j < ow; ++j) {
        float *p0 = r0 + 2 * j * c, *p1 = p0 + c, *p2 = r1 + 2 * j * c, *p3 = p2 + c;
        const float* gp = gsrc + (row * ow + j) * c;
        const uint8_t* q = pos + (row * ow + j) * c;
        int64_t k = 0;
#if defined(__SSE2__)
        for (; k + kLanes <= c; k += kLanes) {
          const Split4 s = split4(gp + k, q + k);
          _mm_storeu_ps(p0 + k, s.pos[0]);
          _mm_storeu_ps(p1 + k, s.pos[1]);
          _mm_storeu_ps(p2 + k, s.pos[2]);
          _mm_storeu_ps(p3 + k, s.pos[3]);
        }
#endif
        for (; k < c; ++k) {
          scatter(gp[k], q[k], p0 + k, p1 + k, p2 + k, p3 + k);
        }
      }
      if (w % 2 != 0) {
        std::fill(r0 + (w - 1) * c, r0 + w * c, 0.0f);
        std::fill(r1 + (w - 1) * c, r1 + w * c, 0.0f);
      }
    }
  });
  return grad_input;
}

// Channels last when the input is laid out so (and not also plain contiguous, as a tensor with C = 1 or 1 x 1
// planes can be both).
bool is_nhwc(const at::Tensor& x) {
  return !x.is_contiguous() && x.is_contiguous(at::MemoryFormat::ChannelsLast);
}

struct ReluMaxPool2 : public torch::autograd::Function<ReluMaxPool2> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x) {
    at::Tensor where;
    const bool nhwc = is_nhwc(x);
    at::Tensor out = nhwc ? forward_nhwc(x, where) : forward_nchw(x.contiguous(), where);
    ctx->saved_data["where"] = where;
    ctx->saved_data["nhwc"] = nhwc;
    ctx->saved_data["sizes"] = x.sizes().vec();
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad) {
    if (!grad[0].defined()) {
      return {at::Tensor()};
    }
    const at::Tensor where = ctx->saved_data["where"].toTensor();
    const std::vector<int64_t> sizes = ctx->saved_data["sizes"].toIntVector();
    return {ctx->saved_data["nhwc"].toBool() ? backward_nhwc(grad[0], where, sizes)
                                              : backward_nchw(grad[0], where, sizes)};
  }
};

}  // namespace

extern "C" {

// relu then 2x2 stride-2 max pooling of a CPU float32 N x C x H x W tensor (at least 2 x 2), as one autograd node;
// channels-last input gives channels-last output (and gradient), anything else is read as contiguous NCHW.
at::Tensor* shift_relu_max_pool2(const at::Tensor* x, char** err) {
  at::Tensor* result = nullptr;
  shift::guarded(err, [&] {
    TORCH_CHECK(x->device().is_cpu(), "relu_max_pool2 runs on the CPU, got a tensor on ", x->device());
    TORCH_CHECK(x->scalar_type() == at::kFloat, "relu_max_pool2 takes float32, got ", x->scalar_type());
    TORCH_CHECK(x->dim() == 4, "relu_max_pool2 takes an N x C x H x W tensor, got ", x->dim(), " dimensions");
    TORCH_CHECK(x->size(2) >= 2 && x->size(3) >= 2, "relu_max_pool2 needs H and W of at least 2, got ",
                x->sizes());
    result = new at::Tensor(ReluMaxPool2::apply(*x));
  });
  return result;
}

}  // extern "C"
