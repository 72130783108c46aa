//! Conv2d and ConvTranspose2d (`kairo::nn::conv`, shaders/conv.wgsl):
//! forward against the CPU reference, gradients by finite differences,
//! DCGAN-sized layers, batch chunking, shape errors.

mod common;

use common::{assert_close, ctx, gradcheck, random};
use kairo::nn::conv::{conv2d, conv_transpose2d, Conv2d, ConvTranspose2d};
use kairo::nn::Module;
use kairo::reference::conv::{self as reference, Conv};
use kairo::{Error, Tensor, Var};
use rand::SeedableRng;

// Forward: each output sums ≤ C·kh·kw ≤ 8192 products of values in [-1, 1)
// (weights scaled to keep outputs O(1)); f32 rounding in a sum of n terms
// stays below ~n·6e-8·|term| ≈ 5e-4 at the DCGAN sizes, far less at the
// small ones. 1e-4 absolute + 1e-4 relative for small layers; the DCGAN
// sizes get 2e-3.
const FWD_ATOL: f32 = 1e-4;
const FWD_RTOL: f32 = 1e-4;

fn opts(stride: usize, padding: usize, dilation: usize, output_padding: usize) -> Conv {
    Conv { stride, padding, dilation, output_padding }
}

fn var(data: &[f32], shape: &[usize]) -> Var {
    Var::constant(Tensor::from_slice(&ctx(), data, shape).unwrap())
}

/// (x shape, weight shape, options) cases: stride, padding, dilation,
/// non-square images and kernels, 1×1 kernels, outputs of size 1.
fn conv_cases() -> Vec<([usize; 4], [usize; 4], Conv)> {
    vec![
        ([2, 3, 5, 5], [4, 3, 3, 3], opts(1, 0, 1, 0)),
        ([2, 3, 5, 5], [4, 3, 3, 3], opts(1, 1, 1, 0)),
        ([2, 3, 6, 7], [2, 3, 4, 4], opts(2, 1, 1, 0)),
        ([1, 2, 7, 6], [3, 2, 3, 2], opts(2, 2, 2, 0)),
        ([3, 4, 4, 4], [8, 4, 1, 1], opts(1, 0, 1, 0)),
        ([2, 3, 4, 4], [1, 3, 4, 4], opts(1, 0, 1, 0)),
        ([2, 1, 9, 9], [2, 1, 3, 3], opts(3, 0, 1, 0)),
    ]
}

#[test]
fn conv2d_forward_matches_reference() {
    for (xs, ws, o) in conv_cases() {
        for bias in [false, true] {
            let x = random(xs.iter().product(), 1);
            let w = random(ws.iter().product(), 2);
            let b = random(ws[0], 3);
            let bv = bias.then(|| var(&b, &[ws[0]]));
            let y = conv2d(&var(&x, &xs), &var(&w, &ws), bv.as_ref(), o.stride, o.padding, o.dilation).unwrap();
            let (want, shape) = reference::conv2d(&x, xs, &w, ws, bias.then_some(&b[..]), o);
            assert_eq!(y.shape(), shape, "conv2d {xs:?} {ws:?} {o:?}");
            assert_close(&format!("conv2d {xs:?} {ws:?} {o:?} bias={bias}"), &y.value().to_vec().unwrap(), &want, FWD_ATOL, FWD_RTOL);
        }
    }
}

fn conv_t_cases() -> Vec<([usize; 4], [usize; 4], Conv)> {
    vec![
        ([2, 3, 1, 1], [3, 4, 4, 4], opts(1, 0, 1, 0)), // DCGAN's first layer, tiny
        ([2, 3, 3, 3], [3, 2, 4, 4], opts(2, 1, 1, 0)), // DCGAN's upsampling layers, tiny
        ([2, 2, 3, 4], [2, 3, 3, 3], opts(2, 1, 1, 1)), // output padding
        ([1, 2, 3, 3], [2, 2, 3, 2], opts(1, 1, 2, 0)), // dilation
        ([2, 2, 3, 3], [2, 2, 3, 3], opts(3, 0, 2, 1)), // stride > kernel span, output padding with dilation
        ([2, 4, 4, 4], [4, 4, 1, 1], opts(1, 0, 1, 0)),
        ([2, 2, 2, 2], [2, 3, 5, 5], opts(3, 2, 1, 2)),
    ]
}

#[test]
fn conv_transpose2d_forward_matches_reference_and_pytorch_sizes() {
    for (xs, ws, o) in conv_t_cases() {
        for bias in [false, true] {
            let x = random(xs.iter().product(), 4);
            let w = random(ws.iter().product(), 5);
            let b = random(ws[1], 6);
            let bv = bias.then(|| var(&b, &[ws[1]]));
            let y = conv_transpose2d(&var(&x, &xs), &var(&w, &ws), bv.as_ref(), o.stride, o.padding, o.output_padding, o.dilation)
                .unwrap();
            let (want, shape) = reference::conv_transpose2d(&x, xs, &w, ws, bias.then_some(&b[..]), o);
            // H_out = (H−1)·s − 2p + d·(k−1) + op + 1
            let h_out = (xs[2] - 1) * o.stride + o.dilation * (ws[2] - 1) + o.output_padding + 1 - 2 * o.padding;
            assert_eq!(shape[2], h_out);
            assert_eq!(y.shape(), shape, "conv_transpose2d {xs:?} {ws:?} {o:?}");
            let what = format!("conv_transpose2d {xs:?} {ws:?} {o:?} bias={bias}");
            assert_close(&what, &y.value().to_vec().unwrap(), &want, FWD_ATOL, FWD_RTOL);
        }
    }
}

#[test]
fn conv2d_gradients_match_finite_differences() {
    // Tolerances: common::GRAD_ATOL / GRAD_RTOL (explained there).
    for (xs, ws, o) in conv_cases().into_iter().take(5) {
        for bias in [false, true] {
            let mut inputs = vec![(random(xs.iter().product(), 10), xs.to_vec()), (random(ws.iter().product(), 11), ws.to_vec())];
            if bias {
                inputs.push((random(ws[0], 12), vec![ws[0]]));
            }
            gradcheck(
                &format!("conv2d {xs:?} {ws:?} {o:?} bias={bias}"),
                &inputs,
                |v| conv2d(&v[0], &v[1], v.get(2), o.stride, o.padding, o.dilation),
                |x| reference::conv2d(&x[0], xs, &x[1], ws, x.get(2).map(|b| b.as_slice()), o).0,
            );
        }
    }
}

#[test]
fn conv_transpose2d_gradients_match_finite_differences() {
    for (xs, ws, o) in conv_t_cases().into_iter().take(5) {
        for bias in [false, true] {
            let mut inputs = vec![(random(xs.iter().product(), 13), xs.to_vec()), (random(ws.iter().product(), 14), ws.to_vec())];
            if bias {
                inputs.push((random(ws[1], 15), vec![ws[1]]));
            }
            gradcheck(
                &format!("conv_transpose2d {xs:?} {ws:?} {o:?} bias={bias}"),
                &inputs,
                |v| conv_transpose2d(&v[0], &v[1], v.get(2), o.stride, o.padding, o.output_padding, o.dilation),
                |x| reference::conv_transpose2d(&x[0], xs, &x[1], ws, x.get(2).map(|b| b.as_slice()), o).0,
            );
        }
    }
}

/// Σ w·y for upstream w: the gradient of input `i` by the adjoint identity
/// ⟨dy, f(x)⟩ linear in each input, checked at DCGAN sizes without finite
/// differences: for a bilinear op, ⟨dy, f(x, w)⟩ = ⟨dx, x⟩ = ⟨dw, w⟩.
fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum()
}

#[test]
fn dcgan_sized_layers_match_reference() {
    let c = ctx();
    // Layers of the 32×32 DCGAN (ngf = ndf = 64): generator 128→64 at
    // 8×8 → 16×16, discriminator 64→128 at 16×16 → 8×8.
    let (xs, ws, o) = ([1, 128, 8, 8], [128, 64, 4, 4], opts(2, 1, 1, 0));
    let x = random(xs.iter().product(), 20);
    let w: Vec<f32> = random(ws.iter().product(), 21).iter().map(|v| v * 0.05).collect();
    let xv = Var::parameter(Tensor::from_slice(&c, &x, &xs).unwrap());
    let wv = Var::parameter(Tensor::from_slice(&c, &w, &ws).unwrap());
    let y = conv_transpose2d(&xv, &wv, None, 2, 1, 0, 1).unwrap();
    let (want, shape) = reference::conv_transpose2d(&x, xs, &w, ws, None, o);
    assert_eq!(y.shape(), shape);
    let got = y.value().to_vec().unwrap();
    assert_close("dcgan conv_transpose2d", &got, &want, 2e-3, 2e-3);
    // Bilinear: ⟨y, y⟩ = ⟨dx, x⟩ = ⟨dw, w⟩ for upstream dy = y.
    y.backward_with(y.value().clone()).unwrap();
    let yy = dot(&got, &got);
    let xdx = dot(&x, &xv.grad().unwrap().to_vec().unwrap());
    let wdw = dot(&w, &wv.grad().unwrap().to_vec().unwrap());
    assert!((xdx - yy).abs() < 1e-3 * yy && (wdw - yy).abs() < 1e-3 * yy, "⟨y,y⟩ {yy}, ⟨dx,x⟩ {xdx}, ⟨dw,w⟩ {wdw}");

    let (xs, ws, o) = ([2, 64, 16, 16], [128, 64, 4, 4], opts(2, 1, 1, 0));
    let x = random(xs.iter().product(), 22);
    let w: Vec<f32> = random(ws.iter().product(), 23).iter().map(|v| v * 0.05).collect();
    let b = random(128, 24);
    let xv = Var::parameter(Tensor::from_slice(&c, &x, &xs).unwrap());
    let wv = Var::parameter(Tensor::from_slice(&c, &w, &ws).unwrap());
    let y = conv2d(&xv, &wv, Some(&var(&b, &[128])), 2, 1, 1).unwrap();
    let (want, shape) = reference::conv2d(&x, xs, &w, ws, Some(&b), o);
    assert_eq!(y.shape(), shape);
    assert_close("dcgan conv2d", &y.value().to_vec().unwrap(), &want, 2e-3, 2e-3);
    let nob = conv2d(&xv, &wv, None, 2, 1, 1).unwrap();
    let got = nob.value().to_vec().unwrap();
    nob.backward_with(nob.value().clone()).unwrap();
    let yy = dot(&got, &got);
    let xdx = dot(&x, &xv.grad().unwrap().to_vec().unwrap());
    let wdw = dot(&w, &wv.grad().unwrap().to_vec().unwrap());
    assert!((xdx - yy).abs() < 1e-3 * yy && (wdw - yy).abs() < 1e-3 * yy, "⟨y,y⟩ {yy}, ⟨dx,x⟩ {xdx}, ⟨dw,w⟩ {wdw}");
}

#[test]
fn large_batches_run_in_chunks() {
    // 3 images of 256×256: 3·65536 output positions exceed the 131072 a
    // software adapter's matmul inner dimension allows, so the weight
    // gradient and the forward run in chunks of images.
    let c = ctx();
    let (xs, ws, o) = ([3, 1, 256, 256], [4, 1, 3, 3], opts(1, 1, 1, 0));
    let x = random(xs.iter().product(), 30);
    let w = random(ws.iter().product(), 31);
    let xv = Var::parameter(Tensor::from_slice(&c, &x, &xs).unwrap());
    let wv = Var::parameter(Tensor::from_slice(&c, &w, &ws).unwrap());
    let y = conv2d(&xv, &wv, None, 1, 1, 1).unwrap();
    let (want, _) = reference::conv2d(&x, xs, &w, ws, None, o);
    let got = y.value().to_vec().unwrap();
    assert_close("chunked conv2d", &got, &want, FWD_ATOL, FWD_RTOL);
    y.backward_with(y.value().clone()).unwrap();
    let yy = dot(&got, &got);
    let wdw = dot(&w, &wv.grad().unwrap().to_vec().unwrap());
    let xdx = dot(&x, &xv.grad().unwrap().to_vec().unwrap());
    assert!((xdx - yy).abs() < 1e-3 * yy && (wdw - yy).abs() < 1e-3 * yy, "⟨y,y⟩ {yy}, ⟨dx,x⟩ {xdx}, ⟨dw,w⟩ {wdw}");
}

#[test]
fn modules_initialise_like_pytorch_and_name_parameters() {
    let c = ctx();
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let conv = Conv2d::new(&c, 3, 8, 4, 2, 1, true, &mut rng).unwrap();
    assert_eq!(conv.weight.shape(), &[8, 3, 4, 4]);
    let names: Vec<String> = conv.parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["weight", "bias"]);
    let bound = 1.0 / (3.0f32 * 16.0).sqrt();
    assert!(conv.weight.value().to_vec().unwrap().iter().all(|v| v.abs() <= bound));
    let x = Var::constant(Tensor::from_slice(&c, &random(2 * 3 * 8 * 8, 2), &[2, 3, 8, 8]).unwrap());
    assert_eq!(conv.forward(&x).unwrap().shape(), &[2, 8, 4, 4]);

    let convt = ConvTranspose2d::new(&c, 8, 3, 4, 2, 1, 0, false, &mut rng).unwrap();
    assert_eq!(convt.weight.shape(), &[8, 3, 4, 4]);
    assert_eq!(convt.parameters().len(), 1);
    // PyTorch takes the transposed conv's fan-in from weight dim 1: 3·4·4.
    let bound = 1.0 / (3.0f32 * 16.0).sqrt();
    let wt = convt.weight.value().to_vec().unwrap();
    assert!(wt.iter().all(|v| v.abs() <= bound) && wt.iter().any(|v| v.abs() > 0.5 * bound));
    let x = Var::constant(Tensor::from_slice(&c, &random(2 * 8 * 4 * 4, 3), &[2, 8, 4, 4]).unwrap());
    assert_eq!(convt.forward(&x).unwrap().shape(), &[2, 3, 8, 8]);
    assert!(Conv2d::new(&c, 0, 8, 4, 2, 1, true, &mut rng).is_err());
}

#[test]
fn shape_errors_name_both_shapes() {
    let c = ctx();
    let x = Var::constant(Tensor::zeros(&c, &[2, 3, 5, 5]).unwrap());
    let w = Var::constant(Tensor::zeros(&c, &[4, 2, 3, 3]).unwrap());
    let e = conv2d(&x, &w, None, 1, 0, 1).unwrap_err();
    assert!(matches!(e, Error::Shape { .. }) && e.to_string().contains("[2, 3, 5, 5]") && e.to_string().contains("[4, 2, 3, 3]"), "{e}");
    // Kernel larger than the padded input.
    let w = Var::constant(Tensor::zeros(&c, &[4, 3, 7, 7]).unwrap());
    assert!(conv2d(&x, &w, None, 1, 0, 1).is_err());
    // Output padding must be below stride or dilation.
    let wt = Var::constant(Tensor::zeros(&c, &[3, 4, 3, 3]).unwrap());
    assert!(matches!(conv_transpose2d(&x, &wt, None, 2, 0, 2, 1).unwrap_err(), Error::InvalidArgument(_)));
    assert!(conv_transpose2d(&x, &wt, None, 0, 0, 0, 1).is_err());
    let b = Var::constant(Tensor::zeros(&c, &[3]).unwrap());
    let e = conv_transpose2d(&x, &wt, Some(&b), 2, 0, 1, 1).unwrap_err();
    assert!(e.to_string().contains("[3]"), "{e}");
}

#[test]
fn direct_transposed_form_matches_reference() {
    // The gather kernel the benchmarks compare against matmul + col2im.
    for (xs, ws, o) in conv_t_cases() {
        let x = random(xs.iter().product(), 40);
        let w = random(ws.iter().product(), 41);
        let b = random(ws[1], 42);
        let ko = kairo::ops::ConvOptions { stride: o.stride, padding: o.padding, dilation: o.dilation, output_padding: o.output_padding };
        let y = kairo::ops::conv::conv_transpose2d_direct(&var(&x, &xs).value().clone(), var(&w, &ws).value(), Some(var(&b, &[ws[1]]).value()), &ko)
            .unwrap();
        let (want, shape) = reference::conv_transpose2d(&x, xs, &w, ws, Some(&b), o);
        assert_eq!(y.shape(), shape);
        assert_close(&format!("direct conv_transpose2d {xs:?} {ws:?} {o:?}"), &y.to_vec().unwrap(), &want, FWD_ATOL, FWD_RTOL);
    }
}
