//! The kernel layer: every WGSL file in `shaders/` has one launcher module
//! here with the same stem (`shaders/reduce.wgsl` → [`reduce`]), and only
//! these modules record dispatches. A launcher holds the one Rust mirror of
//! its shader's uniform structs (declared with [`params!`], so their layout is
//! known), its bindings as named [`Slot`]s, its entry points as [`Entry`]
//! constants spelled literally, and one `record_*` function per entry point
//! with the shapes it expects. Each module's `CONTRACT` lists all of that;
//! [`contract`] checks it against the shader with naga (tests/kernel_contract.rs)
//! and reports what each entry point needs from a device.
//!
//! May import: `gpu`, `tensor`, `error`. Imported by: `ops`, `nn`, `optim`,
//! `speech`, `bench` (which never call `Context::dispatch` themselves).

use crate::error::{Error, Result};
use crate::gpu::{Binding, Context};
use crate::tensor::Tensor;

pub mod contract;

pub mod batchnorm;
pub mod bench;
pub mod conv;
pub mod ctc;
pub mod ctc_subgroup;
pub mod dropout;
pub mod elementwise;
pub mod embedding;
pub mod gru_cell;
pub mod lookahead;
pub mod loss;
pub mod lstm_cell;
pub mod matmul;
pub mod matmul_scalar;
pub mod matmul_subgroup;
pub mod optim;
pub mod reduce;
pub mod rnn_cell;
pub mod rnn_fused;
pub mod rnn_fused_wg;
pub mod rnn_layers;
pub mod softmax;
pub mod unfold_time;

/// One WGSL file.
#[derive(Debug)]
pub struct Kernel {
    /// Name used by launchers and the pipeline cache (the file's stem).
    pub name: &'static str,
    /// File under `shaders/`.
    pub file: &'static str,
    /// The WGSL text, compiled in.
    pub source: &'static str,
}

macro_rules! kernel {
    ($name:literal) => {
        Kernel { name: $name, file: concat!($name, ".wgsl"), source: include_str!(concat!("../../shaders/", $name, ".wgsl")) }
    };
}

/// Every kernel kairo ships; the only place that knows shader file names.
pub static KERNELS: &[Kernel] = &[
    kernel!("matmul"),
    kernel!("matmul_scalar"),
    kernel!("matmul_subgroup"),
    kernel!("elementwise"),
    kernel!("reduce"),
    kernel!("softmax"),
    kernel!("optim"),
    kernel!("loss"),
    kernel!("bench"),
    kernel!("embedding"),
    kernel!("dropout"),
    kernel!("rnn_cell"),
    kernel!("lstm_cell"),
    kernel!("gru_cell"),
    kernel!("rnn_layers"),
    kernel!("lookahead"),
    kernel!("rnn_fused"),
    kernel!("rnn_fused_wg"),
    kernel!("unfold_time"),
    kernel!("ctc"),
    kernel!("conv"),
    kernel!("batchnorm"),
    kernel!("ctc_subgroup"),
];

/// Every launcher's contract, checked against its shader by tests/kernel_contract.rs.
pub static CONTRACTS: &[&Contract] = &[
    &batchnorm::CONTRACT,
    &bench::CONTRACT,
    &conv::CONTRACT,
    &ctc::CONTRACT,
    &ctc_subgroup::CONTRACT,
    &dropout::CONTRACT,
    &elementwise::CONTRACT,
    &embedding::CONTRACT,
    &gru_cell::CONTRACT,
    &lookahead::CONTRACT,
    &loss::CONTRACT,
    &lstm_cell::CONTRACT,
    &matmul::CONTRACT,
    &matmul_scalar::CONTRACT,
    &matmul_subgroup::CONTRACT,
    &optim::CONTRACT,
    &reduce::CONTRACT,
    &rnn_cell::CONTRACT,
    &rnn_fused::CONTRACT,
    &rnn_fused_wg::CONTRACT,
    &rnn_layers::CONTRACT,
    &softmax::CONTRACT,
    &unfold_time::CONTRACT,
];

/// Looks a kernel up by name.
pub fn get(name: &str) -> Result<&'static Kernel> {
    KERNELS.iter().find(|k| k.name == name).ok_or_else(|| Error::UnknownKernel(name.to_string()))
}

/// How a shader declares a binding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// `var<uniform>`: a params block (kairo writes it into the uniform arena).
    Uniform,
    /// `var<storage, read>`.
    Read,
    /// `var<storage, read_write>`.
    ReadWrite,
}

/// One `@group(0) @binding(index) var<…> name` of a shader, named as in the WGSL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    /// The WGSL variable's name.
    pub name: &'static str,
    /// Its `@binding`.
    pub index: u32,
    /// Its address space and access.
    pub access: Access,
}

impl Slot {
    /// The uniform params block.
    pub const fn uniform(name: &'static str, index: u32) -> Slot {
        Slot { name, index, access: Access::Uniform }
    }
    /// A read-only storage buffer.
    pub const fn read(name: &'static str, index: u32) -> Slot {
        Slot { name, index, access: Access::Read }
    }
    /// A read-write storage buffer.
    pub const fn read_write(name: &'static str, index: u32) -> Slot {
        Slot { name, index, access: Access::ReadWrite }
    }
    /// Binds `t`'s whole buffer here.
    pub fn bind<'a>(&self, t: &'a Tensor) -> Binding<'a> {
        debug_assert!(self.access != Access::Uniform, "params are passed by value, not bound");
        t.binding(self.index)
    }
}

/// One entry point and the bindings it statically uses (uniform included).
#[derive(Clone, Copy, Debug)]
pub struct Entry {
    /// The WGSL function name.
    pub name: &'static str,
    /// Every binding the function (or a function it calls) touches.
    pub slots: &'static [Slot],
}

impl Entry {
    /// Storage buffers it binds (its slots less the uniform), to compare with
    /// `max_storage_buffers_per_shader_stage` when choosing a variant.
    pub fn storage_buffers(&self) -> u32 {
        self.slots.iter().filter(|s| s.access != Access::Uniform).count() as u32
    }
}

/// One field of a uniform struct's Rust mirror.
#[derive(Clone, Copy, Debug)]
pub struct Field {
    /// Field name, the same in Rust and WGSL.
    pub name: &'static str,
    /// Byte offset in the Rust struct.
    pub offset: usize,
    /// Byte size.
    pub size: usize,
}

/// The layout of a Rust mirror of a WGSL struct (made by [`params!`]).
#[derive(Clone, Copy, Debug)]
pub struct ParamsLayout {
    /// The Rust type.
    pub rust: &'static str,
    /// The WGSL struct it mirrors.
    pub wgsl: &'static str,
    /// `size_of` the Rust type.
    pub size: usize,
    /// Its fields in declaration order.
    pub fields: &'static [Field],
}

/// What a launcher module declares about its shader.
#[derive(Clone, Copy, Debug)]
pub struct Contract {
    /// The kernel (file stem) in [`KERNELS`].
    pub kernel: &'static str,
    /// The Rust mirrors of the shader's uniform structs.
    pub params: &'static [ParamsLayout],
    /// Every entry point the launcher records.
    pub entries: &'static [Entry],
}

/// Declares a `#[repr(C)]`, `Pod` mirror of a WGSL uniform struct and its
/// [`ParamsLayout`] as `NAME::LAYOUT`, from one list of fields, so the
/// contract test can compare every offset with the shader's.
#[macro_export]
macro_rules! params {
    ($(#[$meta:meta])* $vis:vis struct $name:ident as $wgsl:literal {
        $($(#[$fmeta:meta])* $field:ident : $ty:ty),* $(,)?
    }) => {
        $(#[$meta])*
        #[repr(C)]
        #[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
        $vis struct $name { $($(#[$fmeta])* pub $field: $ty),* }
        impl $name {
            /// The layout the contract test checks against the WGSL struct.
            pub const LAYOUT: $crate::kernels::ParamsLayout = $crate::kernels::ParamsLayout {
                rust: stringify!($name),
                wgsl: $wgsl,
                size: ::std::mem::size_of::<$name>(),
                fields: &[$($crate::kernels::Field {
                    name: stringify!($field),
                    offset: ::std::mem::offset_of!($name, $field),
                    size: ::std::mem::size_of::<$ty>(),
                }),*],
            };
        }
    };
}
pub use params;

/// Records one dispatch of `entry` of `kernel` with `params` as its uniform block.
pub(crate) fn record<P: bytemuck::Pod>(
    ctx: &Context,
    kernel: &str,
    entry: &Entry,
    constants: &[(&str, f64)],
    params: &P,
    bindings: &[Binding<'_>],
    workgroups: [u32; 3],
) -> Result<()> {
    ctx.dispatch(kernel, entry.name, constants, bytemuck::bytes_of(params), bindings, workgroups)
}
