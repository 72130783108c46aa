//! Adapter choice: discrete, then integrated, then virtual, then software;
//! `KAIRO_BACKEND` and `KAIRO_ADAPTER` override it.

use crate::error::{Error, Result};

/// What to open. `Default` reads `KAIRO_BACKEND` and `KAIRO_ADAPTER`.
#[derive(Clone, Debug, Default)]
pub struct AdapterChoice {
    /// Restrict to one backend (`vulkan`, `metal`, `dx12`, `gl`); `None` tries all.
    pub backend: Option<wgpu::Backends>,
    /// Case-insensitive substring of the adapter name.
    pub name: Option<String>,
}

impl AdapterChoice {
    /// The choice the environment asks for.
    pub fn from_env() -> Result<Self> {
        let backend = match std::env::var("KAIRO_BACKEND") {
            Ok(s) if !s.trim().is_empty() => Some(parse_backend(&s)?),
            _ => None,
        };
        let name = std::env::var("KAIRO_ADAPTER").ok().filter(|s| !s.trim().is_empty());
        Ok(AdapterChoice { backend, name })
    }

    #[cfg_attr(target_arch = "wasm32", allow(dead_code))] // used by enumerate/choose, native only
    fn backends(&self) -> wgpu::Backends {
        self.backend.unwrap_or(wgpu::Backends::VULKAN | wgpu::Backends::METAL | wgpu::Backends::DX12 | wgpu::Backends::GL)
    }
}

/// Parses a backend name as `KAIRO_BACKEND` spells it.
pub fn parse_backend(s: &str) -> Result<wgpu::Backends> {
    match s.trim().to_ascii_lowercase().as_str() {
        "vulkan" | "vk" => Ok(wgpu::Backends::VULKAN),
        "metal" | "mtl" => Ok(wgpu::Backends::METAL),
        "dx12" | "d3d12" => Ok(wgpu::Backends::DX12),
        "gl" | "gles" | "opengl" | "egl" => Ok(wgpu::Backends::GL),
        other => Err(Error::UnknownBackend(other.to_string())),
    }
}

/// A new instance over the given backends, GL through EGL without a display.
pub fn instance(backends: wgpu::Backends) -> wgpu::Instance {
    quiet_runtime_dir();
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
    desc.backends = backends;
    wgpu::Instance::new(desc)
}

/// Gives the process a private `XDG_RUNTIME_DIR` when it has none, once,
/// before the first instance.
///
/// Mesa's Vulkan device-select layer asks Wayland for the default GPU each
/// time devices are enumerated, and libwayland prints "error:
/// XDG_RUNTIME_DIR is invalid or not set in the environment." when the
/// variable is missing (ssh sessions, containers, CI). An empty directory
/// of our own makes that probe fail quietly; there is no compositor to find
/// either way. The directory is `<tmp>/kairo-runtime-<uid>`, created 0700
/// and used only if it is a real directory that this user owns and nobody
/// else can enter, so no other user can plant a socket there. Anything
/// unexpected leaves the environment as it was. The variable is set before
/// any instance exists, when kairo starts no threads of its own yet.
fn quiet_runtime_dir() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("XDG_RUNTIME_DIR").is_some() {
            return;
        }
        if let Some(dir) = private_runtime_dir() {
            std::env::set_var("XDG_RUNTIME_DIR", dir);
        }
    });
}

#[cfg(target_os = "linux")]
fn private_runtime_dir() -> Option<std::path::PathBuf> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    let uid = std::fs::metadata("/proc/self").ok()?.uid();
    let dir = std::env::temp_dir().join(format!("kairo-runtime-{uid}"));
    let _ = std::fs::DirBuilder::new().mode(0o700).create(&dir);
    let meta = std::fs::symlink_metadata(&dir).ok()?;
    let private = meta.is_dir() && meta.uid() == uid && meta.mode() & 0o077 == 0;
    (private && dir.is_absolute()).then_some(dir)
}

#[cfg(not(target_os = "linux"))]
fn private_runtime_dir() -> Option<std::path::PathBuf> {
    None
}

/// Lower is better: discrete GPUs first, software rasterisers last.
#[cfg_attr(target_arch = "wasm32", allow(dead_code))] // used by enumerate/choose, native only
fn type_rank(t: wgpu::DeviceType) -> u32 {
    match t {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Cpu => 3,
        wgpu::DeviceType::Other => 4,
    }
}

/// Among equal adapter types, the native compute APIs before GL.
#[cfg_attr(target_arch = "wasm32", allow(dead_code))] // used by enumerate/choose, native only
fn backend_rank(b: wgpu::Backend) -> u32 {
    match b {
        wgpu::Backend::Vulkan | wgpu::Backend::Metal | wgpu::Backend::Dx12 => 0,
        wgpu::Backend::Gl => 1,
        _ => 2,
    }
}

/// Every adapter on the chosen backends, best first.
#[cfg(not(target_arch = "wasm32"))]
pub fn enumerate(choice: &AdapterChoice) -> Vec<wgpu::Adapter> {
    let backends = choice.backends();
    let inst = instance(backends);
    let mut adapters = pollster::block_on(inst.enumerate_adapters(backends));
    adapters.sort_by_key(|a| {
        let i = a.get_info();
        (type_rank(i.device_type), backend_rank(i.backend))
    });
    adapters
}

/// The adapter `choice` asks for, or an error that names the fix.
#[cfg(not(target_arch = "wasm32"))]
pub fn choose(choice: &AdapterChoice) -> Result<wgpu::Adapter> {
    let adapters = enumerate(choice);
    if adapters.is_empty() {
        return Err(Error::NoAdapter { backends: format!("{:?}", choice.backends()), hint: no_adapter_hint() });
    }
    match &choice.name {
        None => Ok(adapters.into_iter().next().expect("non-empty")),
        Some(wanted) => {
            let w = wanted.to_lowercase();
            let names: Vec<String> = adapters.iter().map(describe).collect();
            adapters
                .into_iter()
                .find(|a| a.get_info().name.to_lowercase().contains(&w))
                .ok_or_else(|| Error::AdapterNotFound { wanted: wanted.clone(), available: names.join("; ") })
        }
    }
}

/// One line: name, backend, type.
pub fn describe(a: &wgpu::Adapter) -> String {
    let i = a.get_info();
    format!("{} ({:?}, {:?})", i.name, i.backend, i.device_type)
}

#[cfg_attr(target_arch = "wasm32", allow(dead_code))] // used by enumerate/choose, native only
fn no_adapter_hint() -> String {
    if cfg!(target_os = "linux") {
        "On Linux without a GPU install a software Vulkan driver: `apt-get install -y mesa-vulkan-drivers` \
         (lavapipe), or use llvmpipe through EGL with KAIRO_BACKEND=gl (needs libegl1 and libgl1-mesa-dri)."
            .to_string()
    } else if cfg!(target_os = "windows") {
        "Update the GPU driver, or install WARP/a DX12-capable driver.".to_string()
    } else {
        "Check that a Metal/Vulkan/GL driver is installed.".to_string()
    }
}

/// What a page tells its user when the browser offers no WebGPU adapter.
pub const NO_WEBGPU_HINT: &str = "this browser offers no WebGPU adapter: use Chrome or Edge 113+, Safari 26+ or Firefox 141+ \
(on Linux, Chromium needs --enable-unsafe-webgpu, or chrome://flags/#enable-unsafe-webgpu, and a GPU or SwiftShader)";

/// The browser's WebGPU adapter, high-performance preferred; an error
/// naming what to enable where the browser offers none.
#[cfg(target_arch = "wasm32")]
pub async fn request_browser_adapter() -> Result<wgpu::Adapter> {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
    desc.backends = wgpu::Backends::BROWSER_WEBGPU;
    let inst = wgpu::Instance::new(desc);
    let options = wgpu::RequestAdapterOptions {
        power_preference: wgpu::PowerPreference::HighPerformance,
        ..Default::default()
    };
    inst.request_adapter(&options)
        .await
        .map_err(|e| Error::NoAdapter { backends: format!("browser WebGPU ({e})"), hint: NO_WEBGPU_HINT.into() })
}
