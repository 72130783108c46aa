//! `Embedding`: a lookup table on the tape, as `torch.nn.Embedding`
//! (shaders/embedding.wgsl).
//!
//! Indices are a GPU tensor (U32 or I32), so the host cannot check them:
//! an out-of-range index (including a negative I32) yields a row of zeros
//! in the forward and contributes no gradient. PyTorch raises instead.

use rand::Rng;

use super::Module;
use crate::autograd::Var;
use crate::error::{Error, Result};
use crate::gpu::Context;
use crate::kernels::embedding::{self as kernel, Params};
use crate::ops::{as_u32, grid_1d};
use crate::sampling::standard_normal as normal;
use crate::tensor::{DType, Tensor};

/// Indices one backward pass loops over.
const CHUNK: usize = kernel::MAX_CHUNK;

/// A table of `num` embeddings of size `dim`: weight (num, dim).
#[derive(Clone, Debug)]
pub struct Embedding {
    /// (num_embeddings, embedding_dim), named `weight`.
    pub weight: Var,
    /// Row that receives no gradient (PyTorch's `padding_idx`).
    pub padding_idx: Option<usize>,
}

impl Embedding {
    /// PyTorch's init: weight ~ N(0, 1), the padding row zeroed.
    pub fn new(ctx: &Context, num: usize, dim: usize, padding_idx: Option<usize>, rng: &mut impl Rng) -> Result<Embedding> {
        if num == 0 || dim == 0 {
            return Err(Error::InvalidArgument(format!("Embedding: num ({num}) and dim ({dim}) must be at least 1")));
        }
        let mut w: Vec<f32> = (0..num * dim).map(|_| normal(rng)).collect();
        if let Some(p) = padding_idx.filter(|&p| p < num) {
            w[p * dim..(p + 1) * dim].fill(0.0);
        }
        Self::from_tensor(Tensor::from_slice(ctx, &w, &[num, dim])?, padding_idx)
    }

    /// A table with the given weight (num, dim) as its parameter.
    pub fn from_tensor(weight: Tensor, padding_idx: Option<usize>) -> Result<Embedding> {
        weight.expect_dtype("Embedding", DType::F32)?;
        if weight.shape().len() != 2 {
            return Err(Error::invalid_shape("Embedding", format!("weight must be (num, dim), got {:?}", weight.shape())));
        }
        if let Some(p) = padding_idx {
            if p >= weight.shape()[0] {
                return Err(Error::InvalidArgument(format!(
                    "Embedding: padding_idx {p} out of range for {} embeddings",
                    weight.shape()[0]
                )));
            }
        }
        let weight = Var::parameter(weight);
        weight.set_name("weight");
        Ok(Embedding { weight, padding_idx })
    }

    /// Rows of the table for `indices` (U32 or I32, any shape): shape
    /// indices.shape + [dim].
    pub fn forward(&self, indices: &Tensor) -> Result<Var> {
        if !matches!(indices.dtype(), DType::U32 | DType::I32) {
            return Err(Error::DType { op: "Embedding".into(), expected: DType::U32, got: indices.dtype() });
        }
        let w = self.weight.value();
        indices.same_context("Embedding", w)?;
        let (num, dim) = (w.shape()[0], w.shape()[1]);
        let n_idx = indices.numel();
        let ctx = w.context();
        let mut shape = indices.shape().to_vec();
        shape.push(dim);
        let out = Tensor::empty(ctx, &shape, DType::F32)?;
        let params = Params {
            n_idx: as_u32("Embedding", "indices", n_idx)?,
            num: as_u32("Embedding", "num", num)?,
            dim: as_u32("Embedding", "dim", dim)?,
            padding: self.padding_idx.map_or(u32::MAX, |p| p as u32),
            start: 0,
            count: 0,
            accumulate: 0,
            _pad: 0,
        };
        as_u32("Embedding", "output elements", n_idx * dim)?;
        as_u32("Embedding", "weight elements", num * dim)?;
        kernel::record_embedding_forward(ctx, &params, indices, w, &out, grid_1d(ctx, (n_idx * dim).div_ceil(256) as u64)?)?;
        let idx = indices.clone();
        Ok(Var::from_op(
            out,
            &[&self.weight],
            Box::new(move |g, inputs, _y| {
                let w = inputs[0].value();
                let ctx = w.context();
                let dw = Tensor::empty(ctx, w.shape(), DType::F32)?;
                let mut start = 0;
                loop {
                    // At least one pass, so dW is written even with no indices.
                    let count = CHUNK.min(n_idx - start);
                    let p = Params { start: start as u32, count: count as u32, accumulate: (start > 0) as u32, ..params };
                    kernel::record_embedding_backward(ctx, &p, &idx, g, &dw, grid_1d(ctx, (num * dim).div_ceil(256) as u64)?)?;
                    start += count;
                    if start >= n_idx {
                        break;
                    }
                }
                Ok(vec![Some(dw)])
            }),
        ))
    }
}

impl Module for Embedding {
    fn parameters(&self) -> Vec<(String, Var)> {
        vec![("weight".to_string(), self.weight.clone())]
    }
}
