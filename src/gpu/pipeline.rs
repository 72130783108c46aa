//! The pipeline cache: one compute pipeline per (kernel, entry point,
//! override constants), compiled once per device. Bind-group layouts come from
//! the shader itself: naga tells which bindings each entry point uses and
//! whether each storage buffer is read-only. The uniform params binding uses
//! a dynamic offset, so one bind group serves every dispatch of a step whose
//! buffers are the same (src/gpu/recorder.rs caches them).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::ErrorScope;
use crate::error::{Error, Result};
use crate::kernels;

/// A storage buffer bound at `index` (whole tensor range).
#[derive(Clone, Copy, Debug)]
pub struct Binding<'a> {
    /// `@binding(index)` in group 0.
    pub index: u32,
    /// The buffer.
    pub buffer: &'a wgpu::Buffer,
    /// Bytes bound from the start of the buffer (`arrayLength` sees this).
    pub bytes: u64,
}

impl<'a> Binding<'a> {
    /// Binds the first `bytes` of `buffer` at `index`.
    pub fn new(index: u32, buffer: &'a wgpu::Buffer, bytes: u64) -> Self {
        Binding { index, buffer, bytes }
    }
}

/// A compiled pipeline with what dispatch needs to know about its bindings.
pub(crate) struct CachedPipeline {
    pub(crate) pipeline: wgpu::ComputePipeline,
    pub(crate) layout: wgpu::BindGroupLayout,
    /// Binding numbers the entry point uses, excluding the uniform.
    pub(crate) storage: Vec<u32>,
    /// Binding number and byte size of the uniform params block, if used.
    pub(crate) uniform: Option<(u32, u64)>,
    pub(crate) name: String,
    /// Unique per cache entry: part of the bind-group cache key.
    pub(crate) id: u64,
}

/// How an entry point uses its bindings, from naga.
pub(crate) struct Reflection {
    /// (binding, read-only) of each storage buffer used, sorted.
    storage: Vec<(u32, bool)>,
    /// (binding, size in bytes) of the uniform block, if used.
    uniform: Option<(u32, u64)>,
}

type Key = (String, String, Vec<(String, u64)>);

#[derive(Default)]
pub(crate) struct PipelineCache {
    modules: Mutex<HashMap<&'static str, wgpu::ShaderModule>>,
    pipelines: Mutex<HashMap<Key, Arc<CachedPipeline>>>,
    compiled: AtomicU64,
}

/// Which bindings an entry point statically uses, from naga's analysis.
pub(crate) fn reflect(source: &str, entry: &str) -> Result<Reflection> {
    let module = naga::front::wgsl::parse_str(source).map_err(|e| Error::Gpu {
        context: format!("parsing kernel for {entry}"),
        message: e.emit_to_string(source),
    })?;
    let info = naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::all())
        .validate(&module)
        .map_err(|e| Error::Gpu { context: format!("validating kernel for {entry}"), message: e.emit_to_string(source) })?;
    let ep = module
        .entry_points
        .iter()
        .position(|e| e.name == entry)
        .ok_or_else(|| Error::UnknownKernel(format!("entry point {entry}")))?;
    let ep_info = info.get_entry_point(ep);
    let mut storage = Vec::new();
    let mut uniform = None;
    for (handle, var) in module.global_variables.iter() {
        let Some(binding) = &var.binding else { continue };
        if ep_info[handle].is_empty() {
            continue;
        }
        match var.space {
            naga::AddressSpace::Uniform => {
                let size = module.types[var.ty].inner.size(module.to_ctx()) as u64;
                uniform = Some((binding.binding, size.div_ceil(16) * 16));
            }
            naga::AddressSpace::Storage { access } => {
                storage.push((binding.binding, !access.contains(naga::StorageAccess::STORE)))
            }
            _ => {}
        }
    }
    storage.sort_unstable();
    Ok(Reflection { storage, uniform })
}

fn bind_group_layout(device: &wgpu::Device, label: &str, r: &Reflection) -> wgpu::BindGroupLayout {
    let buffer = |ty, dynamic| wgpu::BindingType::Buffer { ty, has_dynamic_offset: dynamic, min_binding_size: None };
    let mut entries: Vec<wgpu::BindGroupLayoutEntry> = r
        .storage
        .iter()
        .map(|&(binding, read_only)| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: buffer(wgpu::BufferBindingType::Storage { read_only }, false),
            count: None,
        })
        .collect();
    if let Some((binding, _)) = r.uniform {
        entries.push(wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: buffer(wgpu::BufferBindingType::Uniform, true),
            count: None,
        });
    }
    device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor { label: Some(label), entries: &entries })
}

impl PipelineCache {
    pub(crate) fn compiled(&self) -> u64 {
        self.compiled.load(Ordering::Relaxed)
    }

    pub(crate) fn get(
        &self,
        device: &wgpu::Device,
        kernel: &str,
        entry: &str,
        constants: &[(&str, f64)],
    ) -> Result<Arc<CachedPipeline>> {
        let key: Key = (
            kernel.to_string(),
            entry.to_string(),
            constants.iter().map(|(k, v)| (k.to_string(), v.to_bits())).collect(),
        );
        if let Some(p) = self.pipelines.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return Ok(p.clone());
        }
        let k = kernels::get(kernel)?;
        let reflection = reflect(k.source, entry)?;
        let module = {
            let mut modules = self.modules.lock().unwrap_or_else(|e| e.into_inner());
            match modules.get(k.name) {
                Some(m) => m.clone(),
                None => {
                    let scope = ErrorScope::push(device);
                    let desc = wgpu::ShaderModuleDescriptor {
                        label: Some(k.file),
                        source: wgpu::ShaderSource::Wgsl(k.source.into()),
                    };
                    let m = device.create_shader_module(desc);
                    scope.pop(&format!("compiling shaders/{}", k.file))?;
                    modules.insert(k.name, m.clone());
                    m
                }
            }
        };
        let scope = ErrorScope::push(device);
        let label = format!("{kernel}.{entry}");
        let layout = bind_group_layout(device, &label, &reflection);
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some(&label),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(&label),
            layout: Some(&pipeline_layout),
            module: &module,
            entry_point: Some(entry),
            compilation_options: wgpu::PipelineCompilationOptions {
                constants,
                zero_initialize_workgroup_memory: false,
            },
            cache: None,
        });
        scope.pop(&format!("creating pipeline {label} {constants:?}"))?;
        let id = self.compiled.fetch_add(1, Ordering::Relaxed);
        let storage = reflection.storage.iter().map(|&(b, _)| b).collect();
        let cached = Arc::new(CachedPipeline { pipeline, layout, storage, uniform: reflection.uniform, name: label, id });
        self.pipelines.lock().unwrap_or_else(|e| e.into_inner()).insert(key, cached.clone());
        Ok(cached)
    }
}
