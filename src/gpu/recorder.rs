//! The open command encoder and compute pass every operation records into,
//! the uniform arena that holds each dispatch's small parameter block, and a
//! cache of bind groups (the params binding takes a dynamic offset, so a
//! repeated step finds every bind group it needs already made).
//! Nothing here submits on its own: `Context::submit` does, once per step.

use std::collections::HashMap;

use super::pipeline::{Binding, CachedPipeline};
use crate::error::{Error, Result};

/// Bytes per arena chunk: 256 dispatches at the usual 256-byte alignment.
const CHUNK: u64 = 64 * 1024;
/// Cached bind groups beyond this are dropped all at once (they keep buffers alive).
const MAX_CACHED_GROUPS: usize = 4096;

/// (pipeline id, arena chunk, storage bindings as (binding, buffer, bytes)).
type GroupKey = (u64, usize, Vec<(u32, wgpu::Buffer, u64)>);

struct Chunk {
    buffer: wgpu::Buffer,
    staging: Vec<u8>,
}

pub(crate) struct Recorder {
    // Field order matters: the pass borrows the encoder (lifetime forgotten)
    // and must drop first.
    pass: Option<wgpu::ComputePass<'static>>,
    encoder: Option<wgpu::CommandEncoder>,
    chunks: Vec<Chunk>,
    /// Chunk being filled and the byte cursor in it.
    cursor: (usize, u64),
    align: u64,
    commands: u64,
    /// Query set whose slots 0 and 1 the next opened pass writes at its start and end.
    timestamps: Option<wgpu::QuerySet>,
    groups: HashMap<GroupKey, wgpu::BindGroup>,
}

impl Recorder {
    pub(crate) fn new(align: u64) -> Self {
        Recorder { pass: None, encoder: None, chunks: Vec::new(), cursor: (0, 0), align: align.max(16), commands: 0, timestamps: None, groups: HashMap::new() }
    }

    pub(crate) fn has_work(&self) -> bool {
        self.commands > 0
    }

    fn encoder(&mut self, device: &wgpu::Device) -> &mut wgpu::CommandEncoder {
        self.encoder
            .get_or_insert_with(|| device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("kairo.step") }))
    }

    pub(crate) fn end_pass(&mut self) {
        self.pass = None;
    }

    /// The next pass opened writes timestamps into slots 0 and 1 of `qs`.
    pub(crate) fn time_next_pass(&mut self, qs: wgpu::QuerySet) {
        self.end_pass();
        self.timestamps = Some(qs);
    }

    /// Resolves the two timestamps into `dst` (ends the pass).
    pub(crate) fn resolve_timestamps(&mut self, device: &wgpu::Device, qs: &wgpu::QuerySet, dst: &wgpu::Buffer) {
        self.end_pass();
        self.timestamps = None;
        self.encoder(device).resolve_query_set(qs, 0..2, dst, 0);
        self.commands += 1;
    }

    fn pass(&mut self, device: &wgpu::Device) -> &mut wgpu::ComputePass<'static> {
        if self.pass.is_none() {
            let qs = self.timestamps.take();
            let timestamp_writes = qs.as_ref().map(|q| wgpu::ComputePassTimestampWrites {
                query_set: q,
                beginning_of_pass_write_index: Some(0),
                end_of_pass_write_index: Some(1),
            });
            let pass = self
                .encoder(device)
                .begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some("kairo.pass"), timestamp_writes })
                .forget_lifetime();
            self.pass = Some(pass);
        }
        self.pass.as_mut().expect("pass just opened")
    }

    /// Reserves room for `params` in the arena; returns (chunk, offset).
    fn push_params(&mut self, device: &wgpu::Device, params: &[u8]) -> (usize, u64) {
        let len = (params.len() as u64).div_ceil(16) * 16;
        let (mut ci, mut off) = self.cursor;
        if off + len > CHUNK {
            ci += 1;
            off = 0;
        }
        if ci == self.chunks.len() {
            let buffer = device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("kairo.params"),
                size: CHUNK,
                usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            self.chunks.push(Chunk { buffer, staging: Vec::with_capacity(CHUNK as usize) });
        }
        let staging = &mut self.chunks[ci].staging;
        staging.resize(off as usize, 0);
        staging.extend_from_slice(params);
        staging.resize((off + len) as usize, 0);
        self.cursor = (ci, (off + len).div_ceil(self.align) * self.align);
        (ci, off)
    }

    pub(crate) fn dispatch(
        &mut self,
        device: &wgpu::Device,
        pipe: &CachedPipeline,
        params: &[u8],
        bindings: &[Binding<'_>],
        groups: [u32; 3],
    ) -> Result<()> {
        let uniform = match pipe.uniform {
            Some((binding, size)) => {
                if (params.len() as u64).div_ceil(16) * 16 != size {
                    return Err(Error::InvalidArgument(format!(
                        "{} takes a {size}-byte params block, got {} bytes",
                        pipe.name,
                        params.len()
                    )));
                }
                Some((binding, size, self.push_params(device, params)))
            }
            None => None,
        };
        let mut storage = Vec::with_capacity(pipe.storage.len());
        for &b in &pipe.storage {
            let bind = bindings
                .iter()
                .find(|x| x.index == b)
                .ok_or_else(|| Error::InvalidArgument(format!("{} uses binding {b} but none was given", pipe.name)))?;
            storage.push((b, bind.buffer.clone(), bind.bytes.max(4)));
        }
        let chunk = uniform.map_or(0, |(_, _, (ci, _))| ci);
        let key: GroupKey = (pipe.id, chunk, storage);
        if !self.groups.contains_key(&key) {
            if self.groups.len() >= MAX_CACHED_GROUPS {
                self.groups.clear();
            }
            let mut entries: Vec<wgpu::BindGroupEntry> = key
                .2
                .iter()
                .map(|(b, buffer, bytes)| wgpu::BindGroupEntry {
                    binding: *b,
                    resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                        buffer,
                        offset: 0,
                        size: wgpu::BufferSize::new(*bytes),
                    }),
                })
                .collect();
            if let Some((binding, size, (ci, _))) = uniform {
                entries.push(wgpu::BindGroupEntry {
                    binding,
                    resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                        buffer: &self.chunks[ci].buffer,
                        offset: 0,
                        size: wgpu::BufferSize::new(size),
                    }),
                });
            }
            let group = device.create_bind_group(&wgpu::BindGroupDescriptor { label: None, layout: &pipe.layout, entries: &entries });
            self.groups.insert(key.clone(), group);
        }
        let group = self.groups[&key].clone();
        let offsets: &[u32] = match uniform {
            Some((_, _, (_, off))) => &[off as u32],
            None => &[],
        };
        let pass = self.pass(device);
        pass.set_pipeline(&pipe.pipeline);
        pass.set_bind_group(0, &group, offsets);
        pass.dispatch_workgroups(groups[0], groups[1], groups[2]);
        self.commands += 1;
        Ok(())
    }

    /// Forgets cached bind groups (and the buffers they hold on to).
    pub(crate) fn clear_groups(&mut self) {
        self.groups.clear();
    }

    pub(crate) fn copy(&mut self, device: &wgpu::Device, src: &wgpu::Buffer, dst: &wgpu::Buffer, bytes: u64) {
        self.copy_to(device, src, dst, 0, bytes);
    }

    /// A copy of `bytes` from the start of `src` to `dst` at `dst_offset`.
    pub(crate) fn copy_to(&mut self, device: &wgpu::Device, src: &wgpu::Buffer, dst: &wgpu::Buffer, dst_offset: u64, bytes: u64) {
        self.end_pass();
        self.encoder(device).copy_buffer_to_buffer(src, 0, dst, dst_offset, bytes);
        self.commands += 1;
    }

    /// Closes the pass and encoder, uploads the parameter blocks, and hands
    /// back the command buffer to submit.
    pub(crate) fn finish(&mut self, queue: &wgpu::Queue) -> wgpu::CommandBuffer {
        self.end_pass();
        let (last, _) = self.cursor;
        for c in self.chunks.iter_mut().take(last + 1) {
            if !c.staging.is_empty() {
                queue.write_buffer(&c.buffer, 0, &c.staging);
                c.staging.clear();
            }
        }
        self.cursor = (0, 0);
        self.commands = 0;
        self.encoder.take().expect("finish with work recorded").finish()
    }
}
