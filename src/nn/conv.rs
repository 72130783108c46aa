//! `Conv2d` and `ConvTranspose2d` on the tape, as `torch.nn.Conv2d` and
//! `torch.nn.ConvTranspose2d` (groups = 1, square stride/padding/dilation),
//! and the functional forms [`conv2d`] and [`conv_transpose2d`]. The kernels
//! are matmuls plus rearrangements: see [`crate::ops::conv`].

use rand::Rng;

use super::Module;
use crate::autograd::Var;
use crate::error::{Error, Result};
use crate::gpu::Context;
use crate::ops::conv::{self as k, ConvOptions};
use crate::tensor::Tensor;

fn inputs<'a>(x: &'a Var, w: &'a Var, b: Option<&'a Var>) -> Vec<&'a Var> {
    let mut v = vec![x, w];
    if let Some(b) = b {
        v.push(b);
    }
    v
}

fn wants(inputs: &[Var]) -> [bool; 3] {
    [inputs[0].requires_grad(), inputs[1].requires_grad(), inputs.len() == 3 && inputs[2].requires_grad()]
}

fn grads(g: k::ConvGrads, with_bias: bool) -> Vec<Option<Tensor>> {
    let mut v = vec![g.0, g.1];
    if with_bias {
        v.push(g.2);
    }
    v
}

/// y = conv2d(x, w) + b for x (N, C, H, W), w (O, C, kh, kw), b (O,):
/// y (N, O, OH, OW) with OH = ⌊(H + 2p − d·(kh−1) − 1)/s⌋ + 1 (PyTorch),
/// one op on the tape with gradients for x, w and b.
pub fn conv2d(x: &Var, w: &Var, b: Option<&Var>, stride: usize, padding: usize, dilation: usize) -> Result<Var> {
    let o = ConvOptions { stride, padding, dilation, output_padding: 0 };
    let keep = crate::autograd::grad_enabled() && w.requires_grad();
    let (y, saved) = k::conv2d_forward(x.value(), w.value(), b.map(|b| b.value()), &o, keep)?;
    Ok(Var::from_op(
        y,
        &inputs(x, w, b),
        Box::new(move |g, inputs, _y| {
            let need = wants(inputs);
            let r = k::conv2d_backward(inputs[0].value(), inputs[1].value(), g, &o, &saved, need)?;
            Ok(grads(r, inputs.len() == 3))
        }),
    ))
}

/// y = conv_transpose2d(x, w) + b for x (N, Cin, H, W), w (Cin, Cout, kh, kw),
/// b (Cout,): y (N, Cout, H_out, W_out) with
/// H_out = (H−1)·s − 2p + d·(kh−1) + op + 1 (PyTorch), one op on the tape.
pub fn conv_transpose2d(
    x: &Var,
    w: &Var,
    b: Option<&Var>,
    stride: usize,
    padding: usize,
    output_padding: usize,
    dilation: usize,
) -> Result<Var> {
    let o = ConvOptions { stride, padding, dilation, output_padding };
    let keep = crate::autograd::grad_enabled() && w.requires_grad();
    let (y, saved) = k::conv_transpose2d_forward(x.value(), w.value(), b.map(|b| b.value()), &o, keep)?;
    Ok(Var::from_op(
        y,
        &inputs(x, w, b),
        Box::new(move |g, inputs, _y| {
            let need = wants(inputs);
            let r = k::conv_transpose2d_backward(inputs[0].value(), inputs[1].value(), g, &o, &saved, need)?;
            Ok(grads(r, inputs.len() == 3))
        }),
    ))
}

/// `n` values uniform in [−bound, bound).
fn uniform(rng: &mut impl Rng, n: usize, bound: f32) -> Vec<f32> {
    (0..n).map(|_| rng.random_range(-bound..bound)).collect()
}

/// Weight (shape) and bias (len) with PyTorch's default init for a fan-in:
/// kaiming_uniform(a = √5) gives U(−1/√fan_in, 1/√fan_in), the bias the same.
fn init(ctx: &Context, shape: [usize; 4], bias_len: Option<usize>, fan_in: usize, rng: &mut impl Rng) -> Result<(Tensor, Option<Tensor>)> {
    let bound = 1.0 / (fan_in as f32).sqrt();
    let w = Tensor::from_slice(ctx, &uniform(rng, shape.iter().product(), bound), &shape)?;
    let b = match bias_len {
        Some(n) => Some(Tensor::from_slice(ctx, &uniform(rng, n, bound), &[n])?),
        None => None,
    };
    Ok((w, b))
}

fn check_sizes(what: &str, in_ch: usize, out_ch: usize, kernel: usize, stride: usize) -> Result<()> {
    if in_ch == 0 || out_ch == 0 || kernel == 0 || stride == 0 {
        return Err(Error::InvalidArgument(format!(
            "{what}: in_channels ({in_ch}), out_channels ({out_ch}), kernel ({kernel}) and stride ({stride}) must be at least 1"
        )));
    }
    Ok(())
}

/// Wraps weight and bias as parameters named `weight` and `bias`, after
/// checking the weight is 4-D and the bias matches `bias_dim` of it.
fn params(what: &str, weight: Tensor, bias: Option<Tensor>, bias_dim: usize) -> Result<(Var, Option<Var>)> {
    if weight.shape().len() != 4 {
        return Err(Error::invalid_shape(what, format!("weight must be 4-D, got {:?}", weight.shape())));
    }
    if let Some(b) = &bias {
        if b.shape() != [weight.shape()[bias_dim]] {
            return Err(Error::shape(&format!("{what} bias"), weight.shape(), b.shape()));
        }
    }
    let weight = Var::parameter(weight);
    weight.set_name("weight");
    let bias = bias.map(|b| {
        let b = Var::parameter(b);
        b.set_name("bias");
        b
    });
    Ok((weight, bias))
}

fn named(weight: &Var, bias: &Option<Var>) -> Vec<(String, Var)> {
    let mut p = vec![("weight".to_string(), weight.clone())];
    if let Some(b) = bias {
        p.push(("bias".to_string(), b.clone()));
    }
    p
}

/// A 2-D convolution layer: weight (out, in, k, k), optional bias (out,).
#[derive(Clone, Debug)]
pub struct Conv2d {
    /// (out_channels, in_channels, kh, kw), named `weight`.
    pub weight: Var,
    /// (out_channels,), named `bias`.
    pub bias: Option<Var>,
    /// s ≥ 1.
    pub stride: usize,
    /// Zero padding on every side.
    pub padding: usize,
    /// d ≥ 1.
    pub dilation: usize,
}

impl Conv2d {
    /// A square `kernel` with PyTorch's default init (fan-in in·k·k), dilation 1.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        ctx: &Context,
        in_ch: usize,
        out_ch: usize,
        kernel: usize,
        stride: usize,
        padding: usize,
        bias: bool,
        rng: &mut impl Rng,
    ) -> Result<Conv2d> {
        check_sizes("Conv2d", in_ch, out_ch, kernel, stride)?;
        let (w, b) = init(ctx, [out_ch, in_ch, kernel, kernel], bias.then_some(out_ch), in_ch * kernel * kernel, rng)?;
        Self::from_tensors(w, b, stride, padding, 1)
    }

    /// A layer with the given weight (out, in, kh, kw) and bias (out,), as parameters.
    pub fn from_tensors(weight: Tensor, bias: Option<Tensor>, stride: usize, padding: usize, dilation: usize) -> Result<Conv2d> {
        let (weight, bias) = params("Conv2d", weight, bias, 0)?;
        Ok(Conv2d { weight, bias, stride, padding, dilation })
    }

    /// y (N, out, OH, OW) for x (N, in, H, W).
    pub fn forward(&self, x: &Var) -> Result<Var> {
        conv2d(x, &self.weight, self.bias.as_ref(), self.stride, self.padding, self.dilation)
    }
}

impl Module for Conv2d {
    fn parameters(&self) -> Vec<(String, Var)> {
        named(&self.weight, &self.bias)
    }
}

/// A 2-D transposed convolution layer: weight (in, out, k, k), optional bias (out,).
#[derive(Clone, Debug)]
pub struct ConvTranspose2d {
    /// (in_channels, out_channels, kh, kw), named `weight`.
    pub weight: Var,
    /// (out_channels,), named `bias`.
    pub bias: Option<Var>,
    /// s ≥ 1.
    pub stride: usize,
    /// Removed from each side of the full output.
    pub padding: usize,
    /// Extra rows/columns at the bottom/right; < max(stride, dilation).
    pub output_padding: usize,
    /// d ≥ 1.
    pub dilation: usize,
}

impl ConvTranspose2d {
    /// A square `kernel` with PyTorch's default init (PyTorch takes the fan-in
    /// from weight dim 1, i.e. out·k·k), dilation 1.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        ctx: &Context,
        in_ch: usize,
        out_ch: usize,
        kernel: usize,
        stride: usize,
        padding: usize,
        output_padding: usize,
        bias: bool,
        rng: &mut impl Rng,
    ) -> Result<ConvTranspose2d> {
        check_sizes("ConvTranspose2d", in_ch, out_ch, kernel, stride)?;
        let (w, b) = init(ctx, [in_ch, out_ch, kernel, kernel], bias.then_some(out_ch), out_ch * kernel * kernel, rng)?;
        Self::from_tensors(w, b, stride, padding, output_padding, 1)
    }

    /// A layer with the given weight (in, out, kh, kw) and bias (out,), as parameters.
    pub fn from_tensors(
        weight: Tensor,
        bias: Option<Tensor>,
        stride: usize,
        padding: usize,
        output_padding: usize,
        dilation: usize,
    ) -> Result<ConvTranspose2d> {
        let (weight, bias) = params("ConvTranspose2d", weight, bias, 1)?;
        Ok(ConvTranspose2d { weight, bias, stride, padding, output_padding, dilation })
    }

    /// y (N, out, H_out, W_out) for x (N, in, H, W).
    pub fn forward(&self, x: &Var) -> Result<Var> {
        conv_transpose2d(x, &self.weight, self.bias.as_ref(), self.stride, self.padding, self.output_padding, self.dilation)
    }
}

impl Module for ConvTranspose2d {
    fn parameters(&self) -> Vec<(String, Var)> {
        named(&self.weight, &self.bias)
    }
}
