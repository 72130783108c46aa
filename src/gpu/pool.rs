//! Buffer pool: dropped tensors hand their buffers back, and the next
//! allocation of the same size class takes one instead of asking wgpu.
//!
//! Ordering: work is recorded into one encoder and runs in recording order,
//! so a buffer freed while that encoder is open may serve as the output of
//! a later kernel in the same encoder. It may *not* take a `queue.write_buffer`
//! upload, which wgpu executes before the whole next submission; uploads only
//! take buffers freed before the last submit (`free_epoch < epoch`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Size class of a request: multiples of 256 bytes up to 64 KiB, then an
/// sixteenth of the next power of two, so reuse works for near sizes while
/// wasting less than 12.5%.
pub fn size_class(bytes: u64) -> u64 {
    let b = bytes.max(16);
    if b <= 65536 {
        return b.div_ceil(256) * 256;
    }
    let step = b.next_power_of_two() / 16;
    b.div_ceil(step) * step
}

/// Free buffers by (usage bits, size class), each with the epoch it was freed in.
type FreeLists = HashMap<(u32, u64), Vec<(wgpu::Buffer, u64)>>;

#[derive(Default)]
pub(crate) struct PoolShared {
    free: Mutex<FreeLists>,
    /// Submissions so far; bumped by every `queue.submit` kairo makes.
    pub(crate) epoch: AtomicU64,
    pub(crate) created: AtomicU64,
    pub(crate) created_bytes: AtomicU64,
    pub(crate) reused: AtomicU64,
}

/// A buffer on loan from the pool; returns itself on drop.
pub struct PooledBuffer {
    buffer: Option<wgpu::Buffer>,
    class: u64,
    usage: wgpu::BufferUsages,
    pool: Arc<PoolShared>,
}

impl PooledBuffer {
    /// The wgpu buffer (its size is the size class, at least what was asked).
    pub fn buffer(&self) -> &wgpu::Buffer {
        self.buffer.as_ref().expect("buffer present until drop")
    }

    pub(crate) fn pool_id(&self) -> Arc<PoolShared> {
        self.pool.clone()
    }
}

impl Drop for PooledBuffer {
    fn drop(&mut self) {
        if let Some(buf) = self.buffer.take() {
            let epoch = self.pool.epoch.load(Ordering::SeqCst);
            let mut free = self.pool.free.lock().unwrap_or_else(|e| e.into_inner());
            free.entry((self.usage.bits(), self.class)).or_default().push((buf, epoch));
        }
    }
}

impl PoolShared {
    /// Takes a free buffer of this usage and size class, or creates one.
    /// `for_upload` demands one that no unsubmitted command can still touch.
    pub(crate) fn take(
        self: &Arc<Self>,
        device: &wgpu::Device,
        bytes: u64,
        usage: wgpu::BufferUsages,
        for_upload: bool,
    ) -> PooledBuffer {
        let class = size_class(bytes);
        let epoch = self.epoch.load(Ordering::SeqCst);
        let reused = {
            let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
            free.get_mut(&(usage.bits(), class)).and_then(|list| {
                let pos = list.iter().rposition(|(_, freed)| !for_upload || *freed < epoch)?;
                Some(list.swap_remove(pos).0)
            })
        };
        let buffer = match reused {
            Some(b) => {
                self.reused.fetch_add(1, Ordering::Relaxed);
                b
            }
            None => {
                self.created.fetch_add(1, Ordering::Relaxed);
                self.created_bytes.fetch_add(class, Ordering::Relaxed);
                device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("kairo.pool"),
                    size: class,
                    usage,
                    mapped_at_creation: false,
                })
            }
        };
        PooledBuffer { buffer: Some(buffer), class, usage, pool: self.clone() }
    }

    /// Drops every free buffer (memory back to the driver).
    pub(crate) fn trim(&self) {
        self.free.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

#[cfg(test)]
mod tests {
    use super::size_class;

    #[test]
    fn size_classes_cover_the_request_and_waste_little() {
        for bytes in [1u64, 4, 255, 256, 257, 4096, 65536, 65537, 1 << 20, (1 << 20) + 1, 123_456_789] {
            let c = size_class(bytes);
            assert!(c >= bytes, "{bytes} -> {c}");
            assert_eq!(c % 16, 0);
            if bytes > 4096 {
                assert!((c as f64) <= bytes as f64 * 1.126, "{bytes} -> {c}");
            }
        }
    }
}
