//! PyTorch's default initialisation for `nn.Linear`, `nn.Conv1d` and `nn.Conv2d`: weights and biases uniform in
//! +-1/sqrt(fan_in) (kaiming_uniform with a = sqrt(5)), so that shift starts where the PyTorch reference does.

use shift_tensor::tch::nn::{self, Init};

fn bound(fan_in: i64) -> f64 {
    1.0 / (fan_in as f64).sqrt()
}

pub fn linear(p: nn::Path, i: i64, o: i64) -> nn::Linear {
    let b = bound(i);
    nn::linear(
        p,
        i,
        o,
        nn::LinearConfig {
            ws_init: Init::Uniform { lo: -b, up: b },
            bs_init: Some(Init::Uniform { lo: -b, up: b }),
            bias: true,
        },
    )
}

pub fn conv2d(p: nn::Path, i: i64, o: i64, k: i64) -> nn::Conv2D {
    let b = bound(i * k * k);
    nn::conv2d(
        p,
        i,
        o,
        k,
        nn::ConvConfig {
            ws_init: Init::Uniform { lo: -b, up: b },
            bs_init: Init::Uniform { lo: -b, up: b },
            ..Default::default()
        },
    )
}

/// A `k x k` convolution with `padding` on each side (PyTorch's `nn.Conv2d(i, o, k, padding=padding)`).
pub fn conv2d_padded(p: nn::Path, i: i64, o: i64, k: i64, padding: i64) -> nn::Conv2D {
    let b = bound(i * k * k);
    nn::conv2d(
        p,
        i,
        o,
        k,
        nn::ConvConfig {
            ws_init: Init::Uniform { lo: -b, up: b },
            bs_init: Init::Uniform { lo: -b, up: b },
            padding,
            ..Default::default()
        },
    )
}

/// A `k x k` convolution with `stride` and `padding` (PyTorch's `nn.Conv2d(i, o, k, stride, padding)`).
pub fn conv2d_strided(p: nn::Path, i: i64, o: i64, k: i64, stride: i64, padding: i64) -> nn::Conv2D {
    let b = bound(i * k * k);
    nn::conv2d(
        p,
        i,
        o,
        k,
        nn::ConvConfig {
            ws_init: Init::Uniform { lo: -b, up: b },
            bs_init: Init::Uniform { lo: -b, up: b },
            stride,
            padding,
            ..Default::default()
        },
    )
}

/// A width-`k` convolution over time with `padding` on each side (PyTorch's `nn.Conv1d(i, o, k, padding=padding)`).
pub fn conv1d_padded(p: nn::Path, i: i64, o: i64, k: i64, padding: i64) -> nn::Conv1D {
    let b = bound(i * k);
    nn::conv1d(
        p,
        i,
        o,
        k,
        nn::ConvConfig {
            ws_init: Init::Uniform { lo: -b, up: b },
            bs_init: Init::Uniform { lo: -b, up: b },
            padding,
            ..Default::default()
        },
    )
}
