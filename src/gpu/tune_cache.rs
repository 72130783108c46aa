//! Autotune choices kept on disk, so that a new process on the same adapter
//! and driver does not tune again.
//!
//! One JSON file, `autotune.json` in kairo's cache folder (`$KAIRO_CACHE_DIR`,
//! else `$XDG_CACHE_HOME/kairo`, else `~/.cache/kairo`;
//! `KAIRO_AUTOTUNE_CACHE=0` keeps choices in memory only):
//!
//! ```json
//! { "format": 1,
//!   "devices": { "<device key>": { "<tune key>": "<choice>", ... }, ... } }
//! ```
//!
//! The device key ([`device_key`]) names the adapter (name, vendor, device
//! id, backend, subgroup sizes), its driver and driver info, the features
//! and limits the device was opened with, a fingerprint of every shader
//! kairo ships and the crate version: a new driver, a changed kernel or a
//! device opened with other limits tunes afresh, and no entry is reused
//! where it could be stale. A choice is a name (a matmul variant's
//! `name()`), resolved by the op among its current candidates; an unknown
//! name tunes again. Entries of other devices are kept when the file is
//! written.
//!
//! Nothing here is an error to the user: a corrupt or unreadable file is
//! treated as empty (and replaced at the next write), an unwritable folder
//! leaves the choices in memory; both log a warning. The file is loaded
//! lazily, once per [`Context`](super::Context), and written with
//! [`write_atomic`](crate::io::atomic::write_atomic) after each new choice,
//! re-read first so that what another process wrote meanwhile is kept.
//! In a browser build (wasm32) the cache is in memory only.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The cache file's name inside the cache folder.
pub const FILE_NAME: &str = "autotune.json";

/// The file format this build reads and writes.
pub const FORMAT: u32 = 1;

/// Choices of one device: tune key → choice name.
pub type Choices = BTreeMap<String, String>;

/// The whole file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CacheFile {
    /// [`FORMAT`].
    pub format: u32,
    /// Device key → its choices.
    pub devices: BTreeMap<String, Choices>,
}

impl CacheFile {
    /// An empty file of the current format.
    pub fn new() -> Self {
        CacheFile { format: FORMAT, devices: BTreeMap::new() }
    }

    /// Parses the file's text; an error (in words) for anything that is
    /// not this format.
    pub fn parse(text: &str) -> std::result::Result<Self, String> {
        let file: CacheFile = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if file.format != FORMAT {
            return Err(format!("format {} (this build reads {FORMAT})", file.format));
        }
        Ok(file)
    }

    /// The file's text: pretty JSON, keys sorted, a final newline.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("string maps serialise");
        s.push('\n');
        s
    }
}

/// FNV-1a, 64 bits: stable across builds and platforms (std's hasher is not
/// promised to be).
fn fnv1a(hash: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(hash, |h, &b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3))
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// Fingerprint of a set of `(name, source)` shaders.
pub fn fingerprint_of<'a>(sources: impl IntoIterator<Item = (&'a str, &'a str)>) -> u64 {
    sources.into_iter().fold(FNV_OFFSET, |h, (name, source)| {
        let h = fnv1a(h, name.as_bytes());
        let h = fnv1a(h, &[0]);
        let h = fnv1a(h, source.as_bytes());
        fnv1a(h, &[0])
    })
}

/// Fingerprint of every shader in the kernel registry
/// ([`KERNELS`](crate::kernels::KERNELS)): any change to any kernel's text
/// changes it.
pub fn kernel_fingerprint() -> u64 {
    static FP: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *FP.get_or_init(|| fingerprint_of(crate::kernels::KERNELS.iter().map(|k| (k.name, k.source))))
}

/// The key a device's choices are stored under: adapter (name, vendor,
/// device id, backend, subgroup sizes), driver and driver info, a hash of
/// the features and limits the device has, the kernels' fingerprint and
/// kairo's version.
pub fn device_key(info: &wgpu::AdapterInfo, features: wgpu::Features, limits: &wgpu::Limits) -> String {
    device_key_with(info, features, limits, kernel_fingerprint())
}

/// [`device_key`] with the kernel fingerprint given.
pub fn device_key_with(info: &wgpu::AdapterInfo, features: wgpu::Features, limits: &wgpu::Limits, kernels: u64) -> String {
    let device = fnv1a(FNV_OFFSET, format!("{features:?} {limits:?}").as_bytes());
    format!(
        "{} | vendor {:#x} device {:#x} | {:?} | subgroups {}..{} | driver {} | {} | device {device:016x} | kernels {kernels:016x} | kairo {}",
        info.name,
        info.vendor,
        info.device,
        info.backend,
        info.subgroup_min_size,
        info.subgroup_max_size,
        info.driver,
        info.driver_info,
        env!("CARGO_PKG_VERSION"),
    )
}

/// Where choices persist: a file, or nowhere (memory only).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cache {
    file: Option<PathBuf>,
}

impl Cache {
    /// No file: choices live as long as the context.
    pub fn memory() -> Self {
        Cache { file: None }
    }

    /// `dir/autotune.json` (the folder is created at the first write).
    pub fn at(dir: impl Into<PathBuf>) -> Self {
        Cache { file: Some(dir.into().join(FILE_NAME)) }
    }

    /// What the environment asks for (see [`Cache::from_vars`]).
    pub fn from_env() -> Self {
        Self::from_vars(|k| std::env::var_os(k))
    }

    /// `KAIRO_AUTOTUNE_CACHE=0`: memory only; else the file in
    /// `KAIRO_CACHE_DIR`, else `XDG_CACHE_HOME/kairo`, else
    /// `HOME/.cache/kairo`; memory only without any of them, and always in
    /// a browser build. `var` looks a variable up (empty counts as unset).
    pub fn from_vars(var: impl Fn(&str) -> Option<OsString>) -> Self {
        if cfg!(target_arch = "wasm32") {
            return Self::memory();
        }
        if var("KAIRO_AUTOTUNE_CACHE").is_some_and(|v| v == "0") {
            return Self::memory();
        }
        crate::io::cache_dir_from(var).map_or_else(Self::memory, Self::at)
    }

    /// The file, if choices persist.
    pub fn path(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// The whole file; empty if there is none, or (with a warning) if it
    /// cannot be read or parsed.
    pub fn read(&self) -> CacheFile {
        match &self.file {
            Some(path) => read_file(path),
            None => CacheFile::new(),
        }
    }

    /// The choices stored for `device`.
    pub fn load(&self, device: &str) -> Choices {
        self.read().devices.remove(device).unwrap_or_default()
    }

    /// Records `key` → `choice` for `device`: re-reads the file, inserts,
    /// writes it atomically. False (with a warning) where it could not be
    /// written; true for a memory-only cache.
    pub fn store(&self, device: &str, key: &str, choice: &str) -> bool {
        let Some(path) = &self.file else { return true };
        let mut file = read_file(path);
        file.devices.entry(device.to_string()).or_default().insert(key.to_string(), choice.to_string());
        write_file(path, &file)
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn read_file(path: &Path) -> CacheFile {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return CacheFile::new(),
        Err(e) => {
            log::warn!("autotune cache {}: cannot read it ({e}); tuning afresh", path.display());
            return CacheFile::new();
        }
    };
    CacheFile::parse(&text).unwrap_or_else(|e| {
        log::warn!("autotune cache {}: ignored, not a cache file ({e}); it is replaced at the next choice", path.display());
        CacheFile::new()
    })
}

#[cfg(not(target_arch = "wasm32"))]
fn write_file(path: &Path, file: &CacheFile) -> bool {
    let written = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => {
            std::fs::create_dir_all(dir).map_err(|e| crate::error::Error::Io { path: dir.display().to_string(), source: e })
        }
        _ => Ok(()),
    }
    .and_then(|()| crate::io::atomic::write_atomic(path, file.to_json().as_bytes()));
    match written {
        Ok(()) => true,
        Err(e) => {
            log::warn!("autotune cache {}: cannot write it ({e}); choices stay in memory", path.display());
            false
        }
    }
}

#[cfg(target_arch = "wasm32")]
fn read_file(_: &Path) -> CacheFile {
    CacheFile::new()
}

#[cfg(target_arch = "wasm32")]
fn write_file(_: &Path, _: &CacheFile) -> bool {
    true
}

/// A context's choices: loaded from its [`Cache`] at the first lookup,
/// written back after each new choice.
#[derive(Debug)]
pub(crate) struct Tuning {
    cache: Cache,
    device: String,
    choices: Option<Choices>,
}

impl Tuning {
    pub(crate) fn new(cache: Cache, device: String) -> Self {
        Tuning { cache, device, choices: None }
    }

    fn loaded(&mut self) -> &mut Choices {
        if self.choices.is_none() {
            let loaded = self.cache.load(&self.device);
            if !loaded.is_empty() {
                log::debug!("autotune: {} cached choices from {:?}", loaded.len(), self.cache.path());
            }
            self.choices = Some(loaded);
        }
        self.choices.get_or_insert_with(Choices::new)
    }

    pub(crate) fn get(&mut self, key: &str) -> Option<String> {
        self.loaded().get(key).cloned()
    }

    /// Remembers the choice, and stores it; a cache that cannot be written
    /// is not tried again by this context (one warning).
    pub(crate) fn set(&mut self, key: &str, choice: &str) {
        self.loaded().insert(key.to_string(), choice.to_string());
        if !self.cache.store(&self.device, key, choice) {
            self.cache = Cache::memory();
        }
    }

    pub(crate) fn cache(&self) -> &Cache {
        &self.cache
    }

    pub(crate) fn device(&self) -> &str {
        &self.device
    }

    /// Uses `cache` from now on; what was loaded or chosen is forgotten.
    pub(crate) fn replace_cache(&mut self, cache: Cache) {
        self.cache = cache;
        self.choices = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let d = std::env::temp_dir().join(format!("kairo-tune-cache-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    fn info(driver: &str) -> wgpu::AdapterInfo {
        let mut i = wgpu::AdapterInfo::new(wgpu::DeviceType::DiscreteGpu, wgpu::Backend::Vulkan);
        i.name = "Test GPU".into();
        i.vendor = 0x10de;
        i.device = 0x2335;
        i.driver = driver.into();
        i.driver_info = "1.2.3".into();
        i.subgroup_min_size = 32;
        i.subgroup_max_size = 32;
        i
    }

    #[test]
    fn the_file_round_trips_and_other_formats_are_refused() {
        let mut f = CacheFile::new();
        f.devices.entry("dev".into()).or_default().insert("matmul/000/1x64x64x64".into(), "reg4x4".into());
        let text = f.to_json();
        assert_eq!(CacheFile::parse(&text).unwrap(), f);
        assert!(CacheFile::parse("{not json").is_err());
        assert!(CacheFile::parse("[]").is_err());
        let other = text.replace("\"format\": 1", "\"format\": 99");
        assert_ne!(other, text);
        assert!(CacheFile::parse(&other).unwrap_err().contains("format 99"));
    }

    #[test]
    fn the_device_key_changes_with_driver_kernels_and_limits() {
        let f = wgpu::Features::empty();
        let l = wgpu::Limits::default();
        let base = device_key_with(&info("nvidia"), f, &l, 1);
        assert_eq!(base, device_key_with(&info("nvidia"), f, &l, 1));
        assert_ne!(base, device_key_with(&info("nouveau"), f, &l, 1));
        let mut i = info("nvidia");
        i.driver_info = "1.2.4".into();
        assert_ne!(base, device_key_with(&i, f, &l, 1));
        assert_ne!(base, device_key_with(&info("nvidia"), f, &l, 2));
        assert_ne!(base, device_key_with(&info("nvidia"), wgpu::Features::SUBGROUP, &l, 1));
        assert_ne!(base, device_key_with(&info("nvidia"), f, &wgpu::Limits::downlevel_defaults(), 1));
        assert!(base.contains("Test GPU") && base.contains(env!("CARGO_PKG_VERSION")), "{base}");
    }

    #[test]
    fn the_fingerprint_sees_every_byte_and_every_name() {
        let a = fingerprint_of([("matmul", "fn main() {}")]);
        assert_ne!(a, fingerprint_of([("matmul", "fn main() { }")]));
        assert_ne!(a, fingerprint_of([("matmul2", "fn main() {}")]));
        assert_ne!(fingerprint_of([("a", "bc")]), fingerprint_of([("ab", "c")]));
        assert_eq!(kernel_fingerprint(), fingerprint_of(crate::kernels::KERNELS.iter().map(|k| (k.name, k.source))));
    }

    #[test]
    fn the_folder_follows_the_environment() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|p| p.0 == k).map(|p| OsString::from(p.1))
        };
        let home = Cache::from_vars(vars(&[("HOME", "/h")]));
        assert_eq!(home.path(), Some(Path::new("/h/.cache/kairo/autotune.json")));
        let xdg = Cache::from_vars(vars(&[("HOME", "/h"), ("XDG_CACHE_HOME", "/x")]));
        assert_eq!(xdg.path(), Some(Path::new("/x/kairo/autotune.json")));
        let own = Cache::from_vars(vars(&[("HOME", "/h"), ("XDG_CACHE_HOME", "/x"), ("KAIRO_CACHE_DIR", "/k")]));
        assert_eq!(own.path(), Some(Path::new("/k/autotune.json")));
        let empty = Cache::from_vars(vars(&[("HOME", "/h"), ("KAIRO_CACHE_DIR", "")]));
        assert_eq!(empty.path(), Some(Path::new("/h/.cache/kairo/autotune.json")));
        assert_eq!(Cache::from_vars(vars(&[("KAIRO_CACHE_DIR", "/k"), ("KAIRO_AUTOTUNE_CACHE", "0")])), Cache::memory());
        assert_eq!(Cache::from_vars(vars(&[("KAIRO_CACHE_DIR", "/k"), ("KAIRO_AUTOTUNE_CACHE", "1")])).path(), own.path());
        assert_eq!(Cache::from_vars(vars(&[])), Cache::memory());
    }

    #[test]
    fn stores_merge_with_what_is_on_disk() {
        let dir = temp_dir("merge");
        let a = Cache::at(&dir);
        let b = Cache::at(&dir);
        assert!(a.load("dev1").is_empty());
        assert!(a.store("dev1", "k1", "reg4x4"));
        assert!(b.store("dev2", "k1", "tiled64"));
        assert!(a.store("dev1", "k2", "reg8x8"));
        assert!(b.store("dev1", "k1", "sg64x64"));
        let f = a.read();
        assert_eq!(f.devices.len(), 2);
        assert_eq!(f.devices["dev1"].get("k1").map(String::as_str), Some("sg64x64"));
        assert_eq!(f.devices["dev1"].get("k2").map(String::as_str), Some("reg8x8"));
        assert_eq!(b.load("dev2").get("k1").map(String::as_str), Some("tiled64"));
        assert!(crate::io::atomic::temporary_files(a.path().unwrap()).is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_corrupt_file_reads_as_empty_and_is_replaced() {
        let dir = temp_dir("corrupt");
        std::fs::create_dir_all(&dir).unwrap();
        let c = Cache::at(&dir);
        std::fs::write(c.path().unwrap(), b"\x00garbage{").unwrap();
        assert!(c.load("dev").is_empty());
        assert!(c.store("dev", "k", "reg4x4"));
        let text = std::fs::read_to_string(c.path().unwrap()).unwrap();
        assert_eq!(CacheFile::parse(&text).unwrap().devices["dev"]["k"], "reg4x4");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_unwritable_folder_only_warns_and_tuning_stays_in_memory() {
        let dir = temp_dir("unwritable");
        std::fs::create_dir_all(&dir).unwrap();
        let blocker = dir.join("a-file");
        std::fs::write(&blocker, b"x").unwrap();
        let c = Cache::at(blocker.join("sub"));
        assert!(!c.store("dev", "k", "reg4x4"));
        let mut t = Tuning::new(c, "dev".into());
        assert_eq!(t.get("k"), None);
        t.set("k", "reg8x8");
        assert_eq!(t.get("k").as_deref(), Some("reg8x8"));
        assert_eq!(t.cache(), &Cache::memory());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn tuning_loads_once_and_writes_each_choice() {
        let dir = temp_dir("tuning");
        let c = Cache::at(&dir);
        assert!(c.store("dev", "old", "reg4x4"));
        let mut t = Tuning::new(c.clone(), "dev".into());
        assert_eq!(t.get("old").as_deref(), Some("reg4x4"));
        // Loaded once: a later write by someone else is not seen ...
        assert!(c.store("dev", "other", "tiled64"));
        assert_eq!(t.get("other"), None);
        // ... but is kept when this context writes its own choice.
        t.set("new", "reg8x8");
        assert_eq!(c.load("dev").len(), 3);
        let mut mem = Tuning::new(Cache::memory(), "dev".into());
        mem.set("k", "reg4x4");
        assert_eq!(mem.get("k").as_deref(), Some("reg4x4"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
