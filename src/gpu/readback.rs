//! Readbacks: GPU buffers copied to the host, in one submit and one
//! mapping per call.
//!
//! The async form is the one implementation. Natively the blocking form is
//! `pollster::block_on` over it: the future polls the device until the map
//! completes, so nothing waits on an event loop. On the web a map completes
//! only when the browser's event loop runs, so there only the async form
//! can finish; the blocking form returns an error that says so instead of
//! hanging the tab.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll, Waker};

use super::Context;
use crate::error::{Error, Result};

impl Context {
    /// Copies `bytes` from `src` to the host: submits pending work with the
    /// copy appended, waits, maps.
    pub(crate) fn read_buffer(&self, src: &wgpu::Buffer, bytes: u64) -> Result<Vec<u8>> {
        Ok(self.read_buffers(&[(src, bytes)])?.remove(0))
    }

    /// Copies the first `bytes` of each buffer to the host with one submit,
    /// one wait and one mapping: the copies go back to back into a single
    /// staging buffer. A training step that logs several scalars reads
    /// them this way instead of paying a round trip each. Blocks (natively;
    /// on the web use [`Context::read_buffers_async`]).
    pub(crate) fn read_buffers(&self, srcs: &[(&wgpu::Buffer, u64)]) -> Result<Vec<Vec<u8>>> {
        #[cfg(not(target_arch = "wasm32"))]
        return pollster::block_on(self.read_buffers_async(srcs));
        #[cfg(target_arch = "wasm32")]
        {
            let _ = srcs;
            Err(Error::Readback(
                "a blocking readback cannot finish in a browser (the map completes only when the page's event loop runs): \
                 call the async form (Tensor::to_vec_async, Tensor::to_vecs_async, the trainers' *_async steps)"
                    .into(),
            ))
        }
    }

    /// [`Context::read_buffers`] as a future, the form the web awaits.
    pub(crate) async fn read_buffers_async(&self, srcs: &[(&wgpu::Buffer, u64)]) -> Result<Vec<Vec<u8>>> {
        let padded: Vec<u64> = srcs.iter().map(|&(_, bytes)| bytes.div_ceil(4) * 4).collect();
        let total: u64 = padded.iter().sum::<u64>().max(4);
        let staging = self.0.pool.take(
            &self.0.device,
            total,
            wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            false,
        );
        {
            let mut rec = self.0.recorder.lock().unwrap_or_else(|e| e.into_inner());
            let mut offset = 0;
            for (&(src, _), &len) in srcs.iter().zip(&padded) {
                if len > 0 {
                    rec.copy_to(&self.0.device, src, staging.buffer(), offset, len);
                }
                offset += len;
            }
            self.submit_locked(&mut rec)?;
        }
        self.0.readbacks.fetch_add(1, Ordering::Relaxed);
        let slice = staging.buffer().slice(0..total);
        let mapped = Mapped::default();
        let done = mapped.clone();
        slice.map_async(wgpu::MapMode::Read, move |r| done.complete(r));
        // Natively this drives the map to completion; on the web it only
        // checks for errors and the browser completes the map.
        self.wait()?;
        mapped.await.map_err(|e| Error::Readback(e.to_string()))?;
        self.take_uncaptured("readback")?;
        let out = {
            let view = slice.get_mapped_range().map_err(|e| Error::Readback(e.to_string()))?;
            let mut offset = 0usize;
            let mut out = Vec::with_capacity(srcs.len());
            for (&(_, bytes), &len) in srcs.iter().zip(&padded) {
                out.push(view[offset..offset + bytes as usize].to_vec());
                offset += len as usize;
            }
            out
        };
        staging.buffer().unmap();
        Ok(out)
    }
}

/// The outcome of one `map_async`, as a future (a one-shot channel).
#[derive(Clone, Default)]
struct Mapped(Arc<Mutex<MapState>>);

#[derive(Default)]
struct MapState {
    result: Option<std::result::Result<(), wgpu::BufferAsyncError>>,
    waker: Option<Waker>,
}

impl Mapped {
    fn complete(&self, r: std::result::Result<(), wgpu::BufferAsyncError>) {
        let mut s = self.0.lock().unwrap_or_else(|p| p.into_inner());
        s.result = Some(r);
        if let Some(w) = s.waker.take() {
            w.wake();
        }
    }
}

impl Future for Mapped {
    type Output = std::result::Result<(), wgpu::BufferAsyncError>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let mut s = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match s.result.take() {
            Some(r) => Poll::Ready(r),
            None => {
                s.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}
