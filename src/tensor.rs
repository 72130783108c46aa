//! Tensor = pooled GPU buffer + shape + dtype. Contiguous, row-major.
//! `reshape` shares the buffer; nothing is read back unless asked.

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::gpu::{Binding, Context, PooledBuffer};

/// Element type. Every dtype is 4 bytes wide.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DType {
    /// 32-bit float: activations, weights.
    F32,
    /// 32-bit unsigned: indices, labels.
    U32,
    /// 32-bit signed: labels with an ignore value.
    I32,
}

/// A tensor on the GPU.
#[derive(Clone)]
pub struct Tensor {
    ctx: Context,
    buf: Arc<PooledBuffer>,
    shape: Vec<usize>,
    dtype: DType,
}

impl std::fmt::Debug for Tensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tensor({:?}, {:?})", self.shape, self.dtype)
    }
}

/// Number of elements of `shape`, or an error if it overflows.
pub fn numel(op: &str, shape: &[usize]) -> Result<usize> {
    shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| Error::invalid_shape(op, format!("shape {shape:?} has more elements than fit in memory")))
}

impl Tensor {
    /// An uninitialised tensor (contents undefined until a kernel writes it).
    pub fn empty(ctx: &Context, shape: &[usize], dtype: DType) -> Result<Tensor> {
        let n = numel("empty", shape)?;
        let bytes = (n as u64).checked_mul(4).ok_or_else(|| Error::invalid_shape("empty", "size overflows"))?;
        let buf = ctx.alloc_storage(&format!("tensor of shape {shape:?}"), bytes, false)?;
        Ok(Tensor { ctx: ctx.clone(), buf: Arc::new(buf), shape: shape.to_vec(), dtype })
    }

    fn upload(ctx: &Context, op: &str, bytes: &[u8], len: usize, shape: &[usize], dtype: DType) -> Result<Tensor> {
        let n = numel(op, shape)?;
        if n != len {
            return Err(Error::shape(op, &[len], shape));
        }
        let buf = ctx.alloc_storage(&format!("tensor of shape {shape:?}"), bytes.len() as u64, true)?;
        if !bytes.is_empty() {
            ctx.write_fresh_buffer(buf.buffer(), bytes);
        }
        Ok(Tensor { ctx: ctx.clone(), buf: Arc::new(buf), shape: shape.to_vec(), dtype })
    }

    /// Uploads f32 data; `data.len()` must equal the shape's element count.
    pub fn from_slice(ctx: &Context, data: &[f32], shape: &[usize]) -> Result<Tensor> {
        Self::upload(ctx, "from_slice", bytemuck::cast_slice(data), data.len(), shape, DType::F32)
    }

    /// Uploads u32 data (indices, labels).
    pub fn from_u32(ctx: &Context, data: &[u32], shape: &[usize]) -> Result<Tensor> {
        Self::upload(ctx, "from_u32", bytemuck::cast_slice(data), data.len(), shape, DType::U32)
    }

    /// Uploads i32 data.
    pub fn from_i32(ctx: &Context, data: &[i32], shape: &[usize]) -> Result<Tensor> {
        Self::upload(ctx, "from_i32", bytemuck::cast_slice(data), data.len(), shape, DType::I32)
    }

    /// A tensor filled with `value`.
    pub fn full(ctx: &Context, shape: &[usize], value: f32) -> Result<Tensor> {
        let n = numel("full", shape)?;
        Self::from_slice(ctx, &vec![value; n], shape)
    }

    /// A tensor of zeros.
    pub fn zeros(ctx: &Context, shape: &[usize]) -> Result<Tensor> {
        Self::full(ctx, shape, 0.0)
    }

    /// Overwrites the contents; work recorded before this call sees the old values.
    pub fn write(&self, data: &[f32]) -> Result<()> {
        self.expect_dtype("write", DType::F32)?;
        if data.len() != self.numel() {
            return Err(Error::shape("write", &[data.len()], &self.shape));
        }
        self.ctx.write_buffer(self.buf.buffer(), bytemuck::cast_slice(data))
    }

    /// Overwrites the contents with raw little-endian bytes of the tensor's
    /// own dtype (checkpoint loading of any dtype).
    pub fn write_bytes(&self, bytes: &[u8]) -> Result<()> {
        if bytes.len() as u64 != self.bytes() {
            return Err(Error::shape("write_bytes", &[bytes.len() / 4], &self.shape));
        }
        self.ctx.write_buffer(self.buf.buffer(), bytes)
    }

    fn read(&self) -> Result<Vec<u8>> {
        if self.numel() == 0 {
            return Ok(Vec::new());
        }
        self.ctx.read_buffer(self.buf.buffer(), self.bytes())
    }

    /// Submits pending work and reads the values back (f32 tensors).
    /// Blocks; on the web use [`Tensor::to_vec_async`].
    pub fn to_vec(&self) -> Result<Vec<f32>> {
        self.expect_dtype("to_vec", DType::F32)?;
        Ok(bytemuck::pod_collect_to_vec(&self.read()?))
    }

    /// [`Tensor::to_vec`] as a future (the web's readback).
    pub async fn to_vec_async(&self) -> Result<Vec<f32>> {
        Ok(Self::to_vecs_async(&[self]).await?.remove(0))
    }

    /// Reads several f32 tensors back with one submit and one wait (the
    /// logged scalars of a training step, say), in the order given.
    pub fn to_vecs(tensors: &[&Tensor]) -> Result<Vec<Vec<f32>>> {
        let Some(first) = tensors.first() else { return Ok(Vec::new()) };
        let raw = first.ctx.read_buffers(&Self::f32_sources("to_vecs", tensors)?)?;
        Ok(raw.iter().map(|b| bytemuck::pod_collect_to_vec(b)).collect())
    }

    /// [`Tensor::to_vecs`] as a future (the web's readback).
    pub async fn to_vecs_async(tensors: &[&Tensor]) -> Result<Vec<Vec<f32>>> {
        let Some(first) = tensors.first() else { return Ok(Vec::new()) };
        let raw = first.ctx.read_buffers_async(&Self::f32_sources("to_vecs", tensors)?).await?;
        Ok(raw.iter().map(|b| bytemuck::pod_collect_to_vec(b)).collect())
    }

    /// Every tensor's raw little-endian bytes, any dtype, in one readback.
    pub(crate) fn read_raw(tensors: &[&Tensor]) -> Result<Vec<Vec<u8>>> {
        let Some(first) = tensors.first() else { return Ok(Vec::new()) };
        first.ctx.read_buffers(&Self::raw_sources("read_raw", tensors)?)
    }

    /// [`Tensor::read_raw`] as a future.
    pub(crate) async fn read_raw_async(tensors: &[&Tensor]) -> Result<Vec<Vec<u8>>> {
        let Some(first) = tensors.first() else { return Ok(Vec::new()) };
        first.ctx.read_buffers_async(&Self::raw_sources("read_raw", tensors)?).await
    }

    fn raw_sources<'a>(op: &str, tensors: &[&'a Tensor]) -> Result<Vec<(&'a wgpu::Buffer, u64)>> {
        for t in tensors {
            tensors[0].same_context(op, t)?;
        }
        Ok(tensors.iter().map(|t| (t.buf.buffer(), t.bytes())).collect())
    }

    /// The buffers of `tensors` to read, all f32 and on one context.
    fn f32_sources<'a>(op: &str, tensors: &[&'a Tensor]) -> Result<Vec<(&'a wgpu::Buffer, u64)>> {
        for t in tensors {
            t.expect_dtype(op, DType::F32)?;
        }
        Self::raw_sources(op, tensors)
    }

    /// Reads back a u32 tensor.
    pub fn to_vec_u32(&self) -> Result<Vec<u32>> {
        self.expect_dtype("to_vec_u32", DType::U32)?;
        Ok(bytemuck::pod_collect_to_vec(&self.read()?))
    }

    /// Reads back an i32 tensor.
    pub fn to_vec_i32(&self) -> Result<Vec<i32>> {
        self.expect_dtype("to_vec_i32", DType::I32)?;
        Ok(bytemuck::pod_collect_to_vec(&self.read()?))
    }

    /// The same data under another shape with the same element count; no copy.
    pub fn reshape(&self, shape: &[usize]) -> Result<Tensor> {
        if numel("reshape", shape)? != self.numel() {
            return Err(Error::shape("reshape", &self.shape, shape));
        }
        Ok(Tensor { ctx: self.ctx.clone(), buf: self.buf.clone(), shape: shape.to_vec(), dtype: self.dtype })
    }

    /// A copy into a new buffer (recorded, not submitted).
    pub fn deep_clone(&self) -> Result<Tensor> {
        let out = Tensor::empty(&self.ctx, &self.shape, self.dtype)?;
        if self.numel() > 0 {
            self.ctx.copy_buffer(self.buf.buffer(), out.buf.buffer(), self.bytes());
        }
        Ok(out)
    }

    /// Copies `src` (same shape and dtype) into this tensor on the GPU
    /// (recorded, not submitted).
    pub fn deep_copy_from(&self, src: &Tensor) -> Result<()> {
        if src.shape != self.shape {
            return Err(Error::shape("deep_copy_from", &src.shape, &self.shape));
        }
        src.expect_dtype("deep_copy_from", self.dtype)?;
        src.same_context("deep_copy_from", self)?;
        if self.numel() > 0 && !self.shares_storage(src) {
            self.ctx.copy_buffer(src.buf.buffer(), self.buf.buffer(), self.bytes());
        }
        Ok(())
    }

    /// Dimensions.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Element type.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    /// Size in bytes.
    pub fn bytes(&self) -> u64 {
        self.numel() as u64 * 4
    }

    /// The context the tensor lives on.
    pub fn context(&self) -> &Context {
        &self.ctx
    }

    /// The underlying buffer (larger than `bytes()`: pool size class).
    pub fn buffer(&self) -> &wgpu::Buffer {
        self.buf.buffer()
    }

    /// Binds this tensor at `index` for a dispatch.
    pub fn binding(&self, index: u32) -> Binding<'_> {
        Binding::new(index, self.buf.buffer(), self.bytes())
    }

    /// Whether two tensors share storage (a reshape of one another).
    pub fn shares_storage(&self, other: &Tensor) -> bool {
        Arc::ptr_eq(&self.buf, &other.buf)
    }

    /// Errors unless the dtype is `dtype`.
    pub fn expect_dtype(&self, op: &str, dtype: DType) -> Result<()> {
        if self.dtype != dtype {
            return Err(Error::DType { op: op.to_string(), expected: dtype, got: self.dtype });
        }
        Ok(())
    }

    /// Errors unless both tensors live on the same context.
    pub fn same_context(&self, op: &str, other: &Tensor) -> Result<()> {
        if !Arc::ptr_eq(&self.buf.pool_id(), &other.buf.pool_id()) {
            return Err(Error::InvalidArgument(format!("{op}: tensors live on different devices")));
        }
        Ok(())
    }
}
