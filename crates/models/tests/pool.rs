//! The native ReLU + 2x2 max pooling against libtorch's `relu` then `max_pool2d`: the same bits forward and
//! backward (ties, negative windows, NaN, odd sizes, SIMD remainders, strided input), and its refusals.

use shift_models::pool::{channels_last, relu_max_pool2, relu_max_pool2_composed};
use shift_tensor::native;
use shift_tensor::tch::{Device, Kind, Tensor};

fn bits(t: &Tensor) -> Vec<u32> {
    let v: Vec<f32> = Vec::try_from(t.flatten(0, -1)).expect("float tensor");
    v.into_iter().map(f32::to_bits).collect()
}

/// The native kernel itself (never the model's wrapper, so a kernel failure fails the test).
fn kernel(x: &Tensor) -> Tensor {
    native::relu_max_pool2(x).expect("the native kernel takes this input")
}

/// Output and input gradient of `f` for input `x` and upstream gradient `g`.
fn run(f: fn(&Tensor) -> Tensor, x: &Tensor, g: &Tensor) -> (Tensor, Tensor) {
    let x = x.detach().set_requires_grad(true);
    let y = f(&x);
    let grads = Tensor::run_backward(&[(&y * g).sum(Kind::Float)], &[&x], false, false);
    (y.detach(), grads[0].shallow_clone())
}

fn assert_same(x: &Tensor, label: &str) {
    let size = x.size();
    let out = [size[0], size[1], size[2] / 2, size[3] / 2];
    let g = Tensor::randn(out, (Kind::Float, Device::Cpu));
    let (y_native, gx_native) = run(kernel, x, &g);
    let (y_ref, gx_ref) = run(relu_max_pool2_composed, x, &g);
    assert_eq!(y_native.size(), y_ref.size(), "{label}: output shape");
    assert_eq!(bits(&y_native), bits(&y_ref), "{label}: forward values");
    assert_eq!(bits(&gx_native), bits(&gx_ref), "{label}: input gradient");
}

#[test]
fn random_inputs_match_libtorch_bit_for_bit() {
    // 28 and 10: the digit net's two pools (7 and 5 windows a row: four SIMD lanes plus a scalar remainder).
    for size in [[4, 6, 28, 28], [3, 5, 10, 10], [2, 3, 16, 16], [1, 1, 2, 2]] {
        assert_same(
            &Tensor::randn(size, (Kind::Float, Device::Cpu)),
            &format!("randn {size:?}"),
        );
    }
}

#[test]
fn ties_and_negative_windows_match_libtorch() {
    // Integers in -3..=2: most windows hold ties, many are all negative or zero (gradient must go nowhere).
    let x = Tensor::randint_low(-3, 3, [4, 3, 12, 20], (Kind::Float, Device::Cpu));
    assert_same(&x, "integer ties");
    let constant = Tensor::full([2, 2, 8, 8], 1.5, (Kind::Float, Device::Cpu));
    assert_same(&constant, "constant positive");
    let negative = Tensor::full([2, 2, 8, 8], -0.25, (Kind::Float, Device::Cpu));
    let (y, gx) = run(
        kernel,
        &negative,
        &Tensor::ones([2, 2, 4, 4], (Kind::Float, Device::Cpu)),
    );
    assert_eq!(y.abs().sum(Kind::Float).double_value(&[]), 0.0);
    assert_eq!(gx.abs().sum(Kind::Float).double_value(&[]), 0.0);
    assert_same(&negative, "constant negative");
}

#[test]
fn odd_sizes_drop_the_last_row_and_column_as_libtorch_does() {
    for size in [[2, 3, 7, 9], [1, 2, 11, 3], [2, 1, 3, 19]] {
        let x = Tensor::randn(size, (Kind::Float, Device::Cpu));
        assert_same(&x, &format!("odd {size:?}"));
        let g = Tensor::ones([size[0], size[1], size[2] / 2, size[3] / 2], (Kind::Float, Device::Cpu));
        let (_, gx) = run(relu_max_pool2, &x, &g);
        let last_row = gx.narrow(2, size[2] - 1, 1);
        assert_eq!(
            last_row.abs().sum(Kind::Float).double_value(&[]),
            0.0,
            "{size:?}: last row"
        );
        let last_col = gx.narrow(3, size[3] - 1, 1);
        assert_eq!(
            last_col.abs().sum(Kind::Float).double_value(&[]),
            0.0,
            "{size:?}: last column"
        );
    }
}

#[test]
fn nan_and_negative_zero_gradients_follow_libtorch() {
    let x = Tensor::randn([2, 2, 8, 12], (Kind::Float, Device::Cpu));
    // Two NaNs in one window (libtorch's scan keeps the last), one in another.
    let _ = x.get(0).get(0).get(0).get(1).fill_(f64::NAN);
    let _ = x.get(0).get(0).get(1).get(0).fill_(f64::NAN);
    let _ = x.get(1).get(1).get(5).get(7).fill_(f64::NAN);
    let g = Tensor::randn([2, 2, 4, 6], (Kind::Float, Device::Cpu));
    let _ = g.get(0).get(1).fill_(-0.0);
    let (y_native, gx_native) = run(kernel, &x, &g);
    let (y_ref, gx_ref) = run(relu_max_pool2_composed, &x, &g);
    assert!(f32::try_from(y_native.get(0).get(0).get(0).get(0)).unwrap().is_nan());
    assert_eq!(bits(&y_native), bits(&y_ref));
    assert_eq!(bits(&gx_native), bits(&gx_ref), "NaN positions and -0 gradients");
}

#[test]
fn strided_input_is_read_as_its_values() {
    let x = Tensor::randn([3, 4, 10, 14], (Kind::Float, Device::Cpu)).transpose(2, 3);
    assert!(!x.is_contiguous());
    assert_same(&x, "transposed");
}

#[test]
fn channels_last_input_matches_libtorch_and_stays_channels_last() {
    // 32 and 48 channels: the digit net's (SIMD over channels); 6 and 3 leave scalar remainders; odd sizes.
    for size in [[4, 32, 28, 28], [3, 48, 10, 10], [2, 6, 9, 7], [2, 3, 4, 4]] {
        let x = channels_last(&Tensor::randn(size, (Kind::Float, Device::Cpu)));
        assert!(!x.is_contiguous());
        assert_same(&x, &format!("channels last {size:?}"));
        let y = kernel(&x);
        let (h, w, c) = (size[2] / 2, size[3] / 2, size[1]);
        assert_eq!(y.stride(), [h * w * c, 1, w * c, c], "{size:?}: output channels last");
    }
    let ties = channels_last(&Tensor::randint_low(-3, 3, [4, 8, 12, 20], (Kind::Float, Device::Cpu)));
    assert_same(&ties, "channels-last integer ties");
    let x = channels_last(&Tensor::randn([2, 4, 8, 8], (Kind::Float, Device::Cpu)));
    let x = x.detach().set_requires_grad(true);
    let grads = Tensor::run_backward(&[kernel(&x).sum(Kind::Float)], &[&x], false, false);
    assert_eq!(grads[0].stride(), [256, 1, 32, 4], "input gradient channels last");
}

#[test]
fn works_without_gradient_tracking() {
    let x = Tensor::randn([2, 4, 28, 28], (Kind::Float, Device::Cpu));
    let y = shift_tensor::tch::no_grad(|| kernel(&x));
    assert!(!y.requires_grad());
    assert_eq!(bits(&y), bits(&relu_max_pool2_composed(&x)));
}

#[test]
fn the_kernel_refuses_what_it_does_not_handle_and_the_model_takes_the_two_ops_there() {
    let double = Tensor::randn([2, 3, 8, 8], (Kind::Double, Device::Cpu));
    let err = native::relu_max_pool2(&double).unwrap_err().to_string();
    assert!(err.contains("float32"), "{err}");
    let y = relu_max_pool2(&double);
    assert_eq!(y.kind(), Kind::Double);
    assert_eq!(y.size(), [2, 3, 4, 4]);
    assert!(y.allclose(&relu_max_pool2_composed(&double), 0.0, 0.0, false));

    let three_d = Tensor::randn([3, 8, 8], (Kind::Float, Device::Cpu));
    let err = native::relu_max_pool2(&three_d).unwrap_err().to_string();
    assert!(err.contains("N x C x H x W") && err.contains("3 dimensions"), "{err}");

    let tiny = Tensor::randn([1, 1, 1, 5], (Kind::Float, Device::Cpu));
    let err = native::relu_max_pool2(&tiny).unwrap_err().to_string();
    assert!(err.contains("at least 2"), "{err}");
    // The wrapper routes CPU float32 planes of at least 2 x 2 to the kernel (same bits), others to the two ops.
    let x = Tensor::randn([2, 3, 6, 6], (Kind::Float, Device::Cpu));
    assert_eq!(bits(&relu_max_pool2(&x)), bits(&kernel(&x)));
}
