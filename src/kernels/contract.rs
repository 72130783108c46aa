//! The host–shader contract, checked with naga rather than trusted: every
//! launcher's `Params` mirror has the size and field offsets of the WGSL
//! struct, every named [`Slot`] is the shader's variable at that binding with
//! that access, and each [`Entry`] lists exactly the bindings its function
//! uses. The same reflection tells what each entry point needs from a device
//! ([`requirements`]; `kairo info --kernels` prints it).

use std::collections::BTreeSet;

use naga::{AddressSpace, Module, StorageAccess, TypeInner};

use super::{Access, Contract, ParamsLayout, CONTRACTS, KERNELS};
use crate::error::{Error, Result};

fn parse(name: &str, source: &str) -> Result<(Module, naga::valid::ModuleInfo)> {
    let module = naga::front::wgsl::parse_str(source)
        .map_err(|e| Error::Gpu { context: format!("parsing shaders/{name}.wgsl"), message: e.emit_to_string(source) })?;
    let info = naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::all())
        .validate(&module)
        .map_err(|e| Error::Gpu { context: format!("validating shaders/{name}.wgsl"), message: e.emit_to_string(source) })?;
    Ok((module, info))
}

fn access_of(space: AddressSpace) -> Option<Access> {
    match space {
        AddressSpace::Uniform => Some(Access::Uniform),
        AddressSpace::Storage { access } if access.contains(StorageAccess::STORE) => Some(Access::ReadWrite),
        AddressSpace::Storage { .. } => Some(Access::Read),
        _ => None,
    }
}

fn check_params(module: &Module, layout: &ParamsLayout, problems: &mut Vec<String>) {
    let who = format!("{} (Rust) vs struct {} (WGSL)", layout.rust, layout.wgsl);
    let found = module.types.iter().find(|(_, t)| t.name.as_deref() == Some(layout.wgsl));
    let Some((_, ty)) = found else {
        problems.push(format!("{who}: the shader has no struct {}", layout.wgsl));
        return;
    };
    let TypeInner::Struct { members, span } = &ty.inner else {
        problems.push(format!("{who}: {} is not a struct", layout.wgsl));
        return;
    };
    if *span as usize != layout.size {
        problems.push(format!("{who}: size {} bytes in Rust, {span} in WGSL", layout.size));
    }
    for m in members {
        let name = m.name.as_deref().unwrap_or("?");
        let size = module.types[m.ty].inner.size(module.to_ctx()) as usize;
        match layout.fields.iter().find(|f| f.name == name) {
            None => problems.push(format!("{who}: field {name} is in WGSL only")),
            Some(f) if f.offset != m.offset as usize || f.size != size => problems.push(format!(
                "{who}: field {name} at offset {} size {} in Rust, offset {} size {size} in WGSL",
                f.offset, f.size, m.offset
            )),
            Some(_) => {}
        }
    }
    for f in layout.fields {
        if !members.iter().any(|m| m.name.as_deref() == Some(f.name)) {
            problems.push(format!("{who}: field {} is in Rust only", f.name));
        }
    }
}

/// Every way `contract` disagrees with `source` (empty: it holds).
pub fn check(source: &str, contract: &Contract) -> Vec<String> {
    let mut problems = Vec::new();
    let (module, info) = match parse(contract.kernel, source) {
        Ok(m) => m,
        Err(e) => return vec![e.to_string()],
    };
    for layout in contract.params {
        check_params(&module, layout, &mut problems);
    }
    for (i, ep) in module.entry_points.iter().enumerate() {
        let Some(entry) = contract.entries.iter().find(|e| e.name == ep.name) else {
            problems.push(format!("{}.{}: entry point has no Entry in its launcher", contract.kernel, ep.name));
            continue;
        };
        let ep_info = info.get_entry_point(i);
        let mut used = BTreeSet::new();
        for (handle, var) in module.global_variables.iter() {
            let (Some(binding), Some(access)) = (&var.binding, access_of(var.space)) else { continue };
            if ep_info[handle].is_empty() {
                continue;
            }
            used.insert(binding.binding);
            let name = var.name.as_deref().unwrap_or("?");
            match entry.slots.iter().find(|s| s.index == binding.binding) {
                None => problems.push(format!(
                    "{}.{}: uses @binding({}) {name} ({access:?}), which its Entry does not list",
                    contract.kernel, ep.name, binding.binding
                )),
                Some(s) if s.name != name || s.access != access => problems.push(format!(
                    "{}.{}: Slot {:?} @binding({}) is {:?}; the shader has {name} ({access:?})",
                    contract.kernel, ep.name, s.name, s.index, s.access
                )),
                Some(_) => {}
            }
            if access == Access::Uniform {
                let ty = module.types[var.ty].name.as_deref().unwrap_or("?");
                if !contract.params.iter().any(|l| l.wgsl == ty) {
                    problems.push(format!("{}.{}: uniform {name} is a {ty}, which has no Rust mirror", contract.kernel, ep.name));
                }
            }
        }
        for s in entry.slots {
            if !used.contains(&s.index) {
                problems.push(format!(
                    "{}.{}: Entry lists {:?} @binding({}), which the function does not use",
                    contract.kernel, ep.name, s.name, s.index
                ));
            }
        }
    }
    for e in contract.entries {
        if !module.entry_points.iter().any(|ep| ep.name == e.name) {
            problems.push(format!("{}: Entry {} names no entry point of the shader", contract.kernel, e.name));
        }
    }
    problems
}

/// Every contract in the crate against its shader, and every shader having one.
pub fn check_all() -> Vec<String> {
    let mut problems = Vec::new();
    for k in KERNELS {
        match CONTRACTS.iter().filter(|c| c.kernel == k.name).count() {
            0 => problems.push(format!("{}: no launcher contract in src/kernels/", k.name)),
            1 => {}
            n => problems.push(format!("{}: {n} contracts", k.name)),
        }
    }
    for c in CONTRACTS {
        match KERNELS.iter().find(|k| k.name == c.kernel) {
            Some(k) => problems.extend(check(k.source, c)),
            None => problems.push(format!("{}: contract for a kernel not in the registry", c.kernel)),
        }
    }
    problems
}

/// What one entry point needs from a device, read off the shader.
#[derive(Clone, Debug)]
pub struct Requirements {
    /// Kernel (file stem).
    pub kernel: &'static str,
    /// Entry point.
    pub entry: String,
    /// Storage buffers it binds (WebGPU's default limit per stage: 8).
    pub storage_buffers: u32,
    /// Workgroup size with override constants at their defaults.
    pub workgroup_size: [u32; 3],
    /// Whether an override constant sets the workgroup size.
    pub workgroup_size_overridable: bool,
    /// Bytes of `var<workgroup>` it touches (WebGPU's default: 16 KiB).
    pub workgroup_bytes: u64,
    /// Whether it uses subgroup operations or built-ins.
    pub subgroups: bool,
}

impl Requirements {
    /// Invocations per workgroup (WebGPU's default limit: 256).
    pub fn invocations(&self) -> u32 {
        self.workgroup_size.iter().product()
    }

    /// What it needs beyond `limits`, in words (empty: it fits).
    pub fn over(&self, limits: &wgpu::Limits) -> Vec<String> {
        let l = limits;
        let mut out = Vec::new();
        if self.storage_buffers > l.max_storage_buffers_per_shader_stage {
            out.push(format!("{} storage buffers > {}", self.storage_buffers, l.max_storage_buffers_per_shader_stage));
        }
        if self.invocations() > l.max_compute_invocations_per_workgroup {
            out.push(format!("{} invocations > {}", self.invocations(), l.max_compute_invocations_per_workgroup));
        }
        let [x, y, z] = self.workgroup_size;
        if x > l.max_compute_workgroup_size_x || y > l.max_compute_workgroup_size_y || z > l.max_compute_workgroup_size_z {
            out.push(format!("workgroup {x}x{y}x{z} over the per-dimension limits"));
        }
        if self.workgroup_bytes > l.max_compute_workgroup_storage_size as u64 {
            out.push(format!("{} workgroup bytes > {}", self.workgroup_bytes, l.max_compute_workgroup_storage_size));
        }
        out
    }

    /// The sibling entry kairo runs instead on a device with fewer storage
    /// buffers per stage than this one binds, if it has one ([`FALLBACKS`]).
    pub fn fallback(&self) -> Option<&'static str> {
        FALLBACKS.iter().find(|&&(k, e, _)| k == self.kernel && e == self.entry).map(|&(_, _, f)| f)
    }
}

/// (kernel, entry, fallback): entry points over WebGPU's default of 8
/// storage buffers per stage and the sibling that binds at most 8, which
/// the op chooses from `max_storage_buffers_per_shader_stage`
/// (src/ops/ctc.rs).
/// tests/portability.rs checks that each fallback fits and that no other
/// entry point is over the defaults.
pub static FALLBACKS: &[(&str, &str, &str)] = &[
    ("ctc", "ctc_grad", "ctc_grad_packed"),
    ("ctc", "ctc_beta_grad_serial", "ctc_beta_grad_serial_packed"),
    ("ctc_subgroup", "ctc_beta_grad_subgroup", "ctc_beta_grad_subgroup_packed"),
];

fn block_uses_subgroups(module: &Module, block: &naga::Block, seen: &mut BTreeSet<naga::Handle<naga::Function>>) -> bool {
    use naga::Statement as S;
    block.iter().any(|st| match st {
        S::SubgroupBallot { .. } | S::SubgroupGather { .. } | S::SubgroupCollectiveOperation { .. } => true,
        S::Block(b) => block_uses_subgroups(module, b, seen),
        S::If { accept, reject, .. } => block_uses_subgroups(module, accept, seen) || block_uses_subgroups(module, reject, seen),
        S::Switch { cases, .. } => cases.iter().any(|c| block_uses_subgroups(module, &c.body, seen)),
        S::Loop { body, continuing, .. } => {
            block_uses_subgroups(module, body, seen) || block_uses_subgroups(module, continuing, seen)
        }
        S::Call { function, .. } => seen.insert(*function) && block_uses_subgroups(module, &module.functions[*function].body, seen),
        _ => false,
    })
}

fn uses_subgroup_builtins(module: &Module, ep: &naga::EntryPoint) -> bool {
    use naga::{Binding, BuiltIn};
    let is_sg = |b: &Option<Binding>| {
        matches!(
            b,
            Some(Binding::BuiltIn(BuiltIn::SubgroupSize | BuiltIn::SubgroupInvocationId | BuiltIn::NumSubgroups | BuiltIn::SubgroupId))
        )
    };
    ep.function.arguments.iter().any(|a| {
        is_sg(&a.binding)
            || matches!(&module.types[a.ty].inner, TypeInner::Struct { members, .. } if members.iter().any(|m| is_sg(&m.binding)))
    })
}

/// What every entry point of every kernel needs, in registry order.
pub fn requirements() -> Result<Vec<Requirements>> {
    let mut out = Vec::new();
    for k in KERNELS {
        let (module, info) = parse(k.name, k.source)?;
        let (resolved, _) = naga::back::pipeline_constants::process_overrides(&module, &info, None, &Default::default())
            .map_err(|e| Error::Gpu { context: format!("resolving overrides of shaders/{}", k.file), message: e.to_string() })?;
        for (i, ep) in module.entry_points.iter().enumerate() {
            let ep_info = info.get_entry_point(i);
            let mut storage_buffers = 0;
            let mut workgroup_bytes = 0;
            for (handle, var) in module.global_variables.iter() {
                if ep_info[handle].is_empty() {
                    continue;
                }
                match var.space {
                    AddressSpace::Storage { .. } => storage_buffers += 1,
                    AddressSpace::WorkGroup => workgroup_bytes += module.types[var.ty].inner.size(module.to_ctx()) as u64,
                    _ => {}
                }
            }
            let mut seen = BTreeSet::new();
            out.push(Requirements {
                kernel: k.name,
                entry: ep.name.clone(),
                storage_buffers,
                workgroup_size: resolved.entry_points[i].workgroup_size,
                workgroup_size_overridable: ep.workgroup_size_overrides.is_some(),
                workgroup_bytes,
                subgroups: block_uses_subgroups(&module, &ep.function.body, &mut seen) || uses_subgroup_builtins(&module, ep),
            });
        }
    }
    Ok(out)
}
