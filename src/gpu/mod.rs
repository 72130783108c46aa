//! The GPU context: adapter, device, queue, limits, pipeline cache, buffer
//! pool, and the one open command encoder that every operation records into.

pub mod adapter;
mod pipeline;
pub mod pool;
mod readback;
mod recorder;
pub mod tune_cache;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

pub use adapter::AdapterChoice;
pub use pipeline::Binding;
use pipeline::PipelineCache;
pub use pool::PooledBuffer;
use pool::PoolShared;
use recorder::Recorder;
use tune_cache::Tuning;

use crate::error::{Error, Result};

/// Counts of the work the context has done; tests use them to prove reuse
/// and batching, benchmarks to report dispatches per step.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// GPU buffers created by the pool (not counting reuse).
    pub buffers_created: u64,
    /// Bytes of those buffers.
    pub bytes_created: u64,
    /// Pool requests served by a recycled buffer.
    pub buffers_reused: u64,
    /// Compute dispatches recorded.
    pub dispatches: u64,
    /// `queue.submit` calls made by kairo.
    pub submits: u64,
    /// Buffer readbacks to the host.
    pub readbacks: u64,
    /// Compute pipelines compiled.
    pub pipelines_compiled: u64,
}

/// How long a piece of work took.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    /// From GPU timestamps, where the adapter has them and they were written.
    pub gpu_ms: Option<f64>,
    /// Record + submit + wait on the host.
    pub wall_ms: f64,
}

impl Timing {
    /// GPU time if known, else wall time.
    pub fn best_ms(&self) -> f64 {
        self.gpu_ms.unwrap_or(self.wall_ms)
    }
}

/// Whether an adapter whose subgroups have `min_size..=max_size` lanes runs
/// every 8-invocation workgroup as one subgroup, lanes 0–7, which is what
/// the subgroup kernels assume: broadcasts from constant lanes 0–7,
/// shuffles within lanes 0–7 (XOR by 4, 2, 1; up and down by 1 with the
/// ends masked) and subgroupAdd/Max over the subgroup's active invocations.
///
/// wgpu 30 has no subgroup-size control (no required size, no full
/// subgroups; its Vulkan backend even allows a varying size), so the
/// driver may pick any size in the range for a pipeline: all of it must be
/// at least 8. A larger subgroup than the workgroup is fine, its extra
/// lanes are inactive and no kernel reads them (tests/subgroups.rs checks
/// this and that the workgroup starts at lane 0 on the test adapter; .ci/run
/// runs lavapipe at 4, 8, 16 and 32 lanes, SwiftShader at 4). Below 8 the
/// workgroup splits into several subgroups and the kernels would read
/// lanes of another subgroup, so 4-lane adapters (SwiftShader, lavapipe
/// at 128 bits) and ranges reaching below 8 (wgpu's 4..=128 when a Vulkan
/// driver does not report sizes, Metal's 4..=64) are not selected.
pub fn workgroup_of_8_is_one_subgroup(min_size: u32, max_size: u32) -> bool {
    8 <= min_size && min_size <= max_size
}

/// What the adapter can do, as far as kairo cares; `kairo info` prints it.
#[derive(Clone, Debug)]
pub struct Capabilities {
    /// GPU timestamps at pass boundaries (benchmarks); wall time otherwise.
    pub timestamps: bool,
    /// Subgroup operations in shaders. Some matmul variants, the fused
    /// recurrent step and CTC's β pass use them when subgroups hold at least
    /// 8 invocations ([`Context::subgroup_kernels_run`]); without them those ops
    /// take their workgroup-memory paths.
    pub subgroups: bool,
}

struct Inner {
    device: wgpu::Device,
    queue: wgpu::Queue,
    info: wgpu::AdapterInfo,
    limits: wgpu::Limits,
    caps: Capabilities,
    pipelines: PipelineCache,
    pool: Arc<PoolShared>,
    recorder: Mutex<Recorder>,
    dispatches: AtomicU64,
    submits: AtomicU64,
    readbacks: AtomicU64,
    /// Errors wgpu reported outside any error scope (kept, returned at the next sync).
    uncaptured: Arc<Mutex<Vec<String>>>,
    /// Whether kairo installed the device's uncaptured-error handler. If not
    /// (an embedding host owns the device), every recording is scoped so
    /// kairo's mistakes never reach the host's handler.
    own_handler: bool,
    /// Tuning choices (matmul variant per shape class, ...), loaded from
    /// and written to the disk cache ([`tune_cache`]).
    tuning: Mutex<Tuning>,
}

/// A handle on one device. Cheap to clone; all clones share the device,
/// caches and the open encoder.
#[derive(Clone)]
pub struct Context(Arc<Inner>);

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Context({} on {:?})", self.0.info.name, self.0.info.backend)
    }
}

impl Context {
    /// Opens the best adapter, honouring `KAIRO_BACKEND` and `KAIRO_ADAPTER`.
    /// (On the web: [`Context::new_async`].)
    #[cfg(not(target_arch = "wasm32"))]
    pub fn new() -> Result<Self> {
        Self::with_choice(&AdapterChoice::from_env()?)
    }

    /// Opens the adapter `choice` selects.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn with_choice(choice: &AdapterChoice) -> Result<Self> {
        let adapter = adapter::choose(choice)?;
        Self::from_adapter(&adapter)
    }

    /// Opens the best adapter as a future: on the web, the browser's
    /// WebGPU adapter (high-performance preference), with an error that
    /// says how to enable WebGPU where the browser offers none; natively,
    /// [`Context::new`].
    pub async fn new_async() -> Result<Self> {
        #[cfg(target_arch = "wasm32")]
        {
            let adapter = adapter::request_browser_adapter().await?;
            Self::from_adapter_async(&adapter).await
        }
        #[cfg(not(target_arch = "wasm32"))]
        Self::new()
    }

    /// Opens a device on `adapter` with the adapter's own limits, so large
    /// tensors work on real GPUs, and the optional features kairo uses.
    /// `KAIRO_LIMITS=default` asks for WebGPU's default limits instead
    /// (same features), to see what runs on the least a WebGPU device offers.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn from_adapter(adapter: &wgpu::Adapter) -> Result<Self> {
        pollster::block_on(Self::from_adapter_async(adapter))
    }

    /// [`Context::from_adapter`] as a future: the form the web awaits,
    /// where a device arrives only when the browser's event loop runs.
    pub async fn from_adapter_async(adapter: &wgpu::Adapter) -> Result<Self> {
        let wanted = wgpu::Features::TIMESTAMP_QUERY | wgpu::Features::SUBGROUP;
        let features = adapter.features() & wanted;
        let desc = wgpu::DeviceDescriptor {
            label: Some("kairo"),
            required_features: features,
            required_limits: requested_limits(adapter)?,
            experimental_features: wgpu::ExperimentalFeatures::disabled(),
            memory_hints: wgpu::MemoryHints::Performance,
            trace: wgpu::Trace::Off,
        };
        let (device, queue) = adapter.request_device(&desc).await.map_err(|e| Error::RequestDevice {
            adapter: adapter::describe(adapter),
            reason: e.to_string(),
        })?;
        let uncaptured: Arc<Mutex<Vec<String>>> = Arc::default();
        let sink = uncaptured.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            log::error!("wgpu: {e}");
            sink.lock().unwrap_or_else(|p| p.into_inner()).push(e.to_string());
        }));
        Ok(Self::build(device, queue, uncaptured, true))
    }

    /// Wraps a device and queue the host application created itself
    /// (embedding). kairo uses only the features and limits the device was
    /// created with, and leaves the device's uncaptured-error handler alone:
    /// its own work is wrapped in error scopes.
    pub fn from_wgpu(device: wgpu::Device, queue: wgpu::Queue) -> Self {
        Self::build(device, queue, Arc::default(), false)
    }

    fn build(device: wgpu::Device, queue: wgpu::Queue, uncaptured: Arc<Mutex<Vec<String>>>, own_handler: bool) -> Self {
        let info = device.adapter_info();
        let limits = device.limits();
        let f = device.features();
        let caps = Capabilities {
            timestamps: f.contains(wgpu::Features::TIMESTAMP_QUERY),
            subgroups: f.contains(wgpu::Features::SUBGROUP),
        };
        let recorder = Recorder::new(limits.min_uniform_buffer_offset_alignment as u64);
        let tuning = Tuning::new(tune_cache::Cache::from_env(), tune_cache::device_key(&info, f, &limits));
        Context(Arc::new(Inner {
            device,
            queue,
            info,
            limits,
            caps,
            pipelines: PipelineCache::default(),
            pool: Arc::default(),
            recorder: Mutex::new(recorder),
            dispatches: AtomicU64::new(0),
            submits: AtomicU64::new(0),
            readbacks: AtomicU64::new(0),
            uncaptured,
            own_handler,
            tuning: Mutex::new(tuning),
        }))
    }

    /// The wgpu device.
    pub fn device(&self) -> &wgpu::Device {
        &self.0.device
    }

    /// The wgpu queue.
    pub fn queue(&self) -> &wgpu::Queue {
        &self.0.queue
    }

    /// Name, backend and type of the adapter.
    pub fn adapter_info(&self) -> &wgpu::AdapterInfo {
        &self.0.info
    }

    /// The device's limits (the adapter's, for contexts kairo opened).
    pub fn limits(&self) -> &wgpu::Limits {
        &self.0.limits
    }

    /// Optional features in use.
    pub fn capabilities(&self) -> &Capabilities {
        &self.0.caps
    }

    /// Whether the subgroup kernels (shaders/matmul_subgroup.wgsl,
    /// rnn_fused.wgsl, ctc_subgroup.wgsl) can run: Features::SUBGROUP, and
    /// every subgroup size the adapter may pick holds the 8-invocation
    /// workgroup they launch ([`workgroup_of_8_is_one_subgroup`]).
    pub fn subgroup_kernels_run(&self) -> bool {
        let i = self.adapter_info();
        self.0.caps.subgroups && workgroup_of_8_is_one_subgroup(i.subgroup_min_size, i.subgroup_max_size)
    }

    /// `name (backend, type)`.
    pub fn describe(&self) -> String {
        let i = &self.0.info;
        format!("{} ({:?}, {:?})", i.name, i.backend, i.device_type)
    }

    /// A snapshot of the work counters.
    pub fn counters(&self) -> Counters {
        let p = &self.0.pool;
        Counters {
            buffers_created: p.created.load(Ordering::Relaxed),
            bytes_created: p.created_bytes.load(Ordering::Relaxed),
            buffers_reused: p.reused.load(Ordering::Relaxed),
            dispatches: self.0.dispatches.load(Ordering::Relaxed),
            submits: self.0.submits.load(Ordering::Relaxed),
            readbacks: self.0.readbacks.load(Ordering::Relaxed),
            pipelines_compiled: self.0.pipelines.compiled(),
        }
    }

    /// Checks a buffer size against the device's limits.
    pub fn check_buffer_size(&self, what: &str, bytes: u64) -> Result<()> {
        let l = &self.0.limits;
        if bytes > l.max_storage_buffer_binding_size {
            return Err(Error::OverLimit {
                what: what.to_string(),
                needed: bytes,
                limit_name: "max_storage_buffer_binding_size",
                limit: l.max_storage_buffer_binding_size,
            });
        }
        if bytes > l.max_buffer_size {
            return Err(Error::OverLimit {
                what: what.to_string(),
                needed: bytes,
                limit_name: "max_buffer_size",
                limit: l.max_buffer_size,
            });
        }
        Ok(())
    }

    /// A storage buffer of at least `bytes` from the pool (contents undefined).
    pub(crate) fn alloc_storage(&self, what: &str, bytes: u64, for_upload: bool) -> Result<PooledBuffer> {
        self.check_buffer_size(what, bytes)?;
        let usage = wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST;
        Ok(self.0.pool.take(&self.0.device, bytes, usage, for_upload))
    }

    /// Returns free pooled buffers to the driver.
    pub fn trim_pool(&self) {
        self.0.recorder.lock().unwrap_or_else(|e| e.into_inner()).clear_groups();
        self.0.pool.trim();
    }

    /// Records one compute dispatch of `kernel`/`entry` into the open pass;
    /// only the launchers in `src/kernels/` call it.
    /// `constants` are WGSL `override` values (part of the pipeline key);
    /// `params` go to the uniform at binding 0; `bindings` name the storage
    /// buffers by binding number. Bindings the entry point does not use are
    /// ignored, so sibling entry points can share one binding list.
    pub(crate) fn dispatch(
        &self,
        kernel: &str,
        entry: &str,
        constants: &[(&str, f64)],
        params: &[u8],
        bindings: &[Binding<'_>],
        workgroups: [u32; 3],
    ) -> Result<()> {
        let max = self.0.limits.max_compute_workgroups_per_dimension;
        if let Some(&w) = workgroups.iter().find(|&&w| w > max) {
            return Err(Error::OverLimit {
                what: format!("dispatch of {kernel}.{entry}"),
                needed: w as u64,
                limit_name: "max_compute_workgroups_per_dimension",
                limit: max as u64,
            });
        }
        if workgroups.contains(&0) {
            return Ok(());
        }
        let pipe = self.0.pipelines.get(&self.0.device, kernel, entry, constants)?;
        let mut rec = self.0.recorder.lock().unwrap_or_else(|e| e.into_inner());
        if self.0.own_handler {
            rec.dispatch(&self.0.device, &pipe, params, bindings, workgroups)?;
        } else {
            let scope = ErrorScope::push(&self.0.device);
            let recorded = rec.dispatch(&self.0.device, &pipe, params, bindings, workgroups);
            scope.pop(&format!("recording {kernel}.{entry}"))?;
            recorded?;
        }
        self.0.dispatches.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Records a buffer-to-buffer copy (ends the open compute pass).
    pub(crate) fn copy_buffer(&self, src: &wgpu::Buffer, dst: &wgpu::Buffer, bytes: u64) {
        let mut rec = self.0.recorder.lock().unwrap_or_else(|e| e.into_inner());
        rec.copy(&self.0.device, src, dst, bytes);
    }

    /// Uploads `data` into `dst`. If commands are pending they are submitted
    /// first, so the write cannot overtake work recorded before it.
    pub(crate) fn write_buffer(&self, dst: &wgpu::Buffer, data: &[u8]) -> Result<()> {
        let pending = self.0.recorder.lock().unwrap_or_else(|e| e.into_inner()).has_work();
        if pending {
            self.submit()?;
        }
        self.0.queue.write_buffer(dst, 0, data);
        Ok(())
    }

    /// Uploads into a buffer the pool guaranteed no pending command touches.
    pub(crate) fn write_fresh_buffer(&self, dst: &wgpu::Buffer, data: &[u8]) {
        self.0.queue.write_buffer(dst, 0, data);
    }

    /// Submits everything recorded so far (one `queue.submit`) and returns
    /// any GPU error it raised. A no-op when nothing is pending.
    pub fn submit(&self) -> Result<()> {
        let mut rec = self.0.recorder.lock().unwrap_or_else(|e| e.into_inner());
        self.submit_locked(&mut rec)?;
        Ok(())
    }

    fn submit_locked(&self, rec: &mut Recorder) -> Result<Option<wgpu::SubmissionIndex>> {
        if !rec.has_work() {
            return Ok(None);
        }
        let scope = ErrorScope::push(&self.0.device);
        let cmd = rec.finish(&self.0.queue);
        let index = self.0.queue.submit(Some(cmd));
        self.0.pool.epoch.fetch_add(1, Ordering::SeqCst);
        self.0.submits.fetch_add(1, Ordering::Relaxed);
        scope.pop("submit")?;
        self.take_uncaptured("submit")?;
        Ok(Some(index))
    }

    /// Submits pending work and blocks until the GPU has finished it.
    pub fn sync(&self) -> Result<()> {
        self.submit()?;
        self.wait()
    }

    /// Blocks until all submitted work has finished (natively; on the web
    /// only a readback's future waits, so this checks errors and returns).
    pub fn wait(&self) -> Result<()> {
        #[cfg(not(target_arch = "wasm32"))]
        self.0
            .device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| Error::Gpu { context: "wait".into(), message: e.to_string() })?;
        self.take_uncaptured("wait")
    }

    pub(crate) fn take_uncaptured(&self, what: &str) -> Result<()> {
        let mut errs = self.0.uncaptured.lock().unwrap_or_else(|e| e.into_inner());
        if errs.is_empty() {
            return Ok(());
        }
        let message = errs.drain(..).collect::<Vec<_>>().join("; ");
        Err(Error::Gpu { context: what.to_string(), message })
    }

    fn tuning(&self) -> std::sync::MutexGuard<'_, Tuning> {
        self.0.tuning.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The remembered choice for `key` (a name the op resolves, e.g. a
    /// matmul variant's), made by this context or read from the disk cache
    /// for this device ([`tune_cache`]; read at the first call).
    pub fn tuned(&self, key: &str) -> Option<String> {
        self.tuning().get(key)
    }

    /// Remembers a tuning choice for `key` on this device, and writes it to
    /// the disk cache (a cache that cannot be written only logs a warning).
    pub fn set_tuned(&self, key: &str, choice: &str) {
        self.tuning().set(key, choice);
    }

    /// Where this context's tuning choices persist: the cache the
    /// environment names when the context was created
    /// ([`tune_cache::Cache::from_env`]) unless [`Context::set_tune_cache`] changed it.
    pub fn tune_cache(&self) -> tune_cache::Cache {
        self.tuning().cache().clone()
    }

    /// Uses `cache` for tuning choices from now on (tests, embedding hosts
    /// with their own cache folder); choices loaded or made so far are
    /// forgotten, the next lookup reads `cache`.
    pub fn set_tune_cache(&self, cache: tune_cache::Cache) {
        self.tuning().replace_cache(cache);
    }

    /// The key this device's choices are stored under in the disk cache
    /// ([`tune_cache::device_key`]).
    pub fn tune_device_key(&self) -> String {
        self.tuning().device().to_string()
    }

    /// Runs `work` (which records operations) as its own submission and
    /// times it: GPU time from pass timestamps where the adapter has them
    /// (only the first compute pass `work` opens is covered), wall time
    /// (record + submit + wait) always. Pending work is submitted first.
    pub fn timed(&self, work: impl FnOnce() -> Result<()>) -> Result<Timing> {
        self.sync()?;
        let qs = self.0.caps.timestamps.then(|| {
            self.0.device.create_query_set(&wgpu::QuerySetDescriptor {
                label: Some("kairo.timing"),
                ty: wgpu::QueryType::Timestamp,
                count: 2,
            })
        });
        if let Some(q) = &qs {
            self.0.recorder.lock().unwrap_or_else(|e| e.into_inner()).time_next_pass(q.clone());
        }
        let start = web_time::Instant::now();
        work()?;
        let gpu_ms = match &qs {
            Some(q) => {
                let resolve = self.0.pool.take(
                    &self.0.device,
                    16,
                    wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
                    false,
                );
                self.0.recorder.lock().unwrap_or_else(|e| e.into_inner()).resolve_timestamps(
                    &self.0.device,
                    q,
                    resolve.buffer(),
                );
                let raw = self.read_buffer(resolve.buffer(), 16)?;
                let t: Vec<u64> = bytemuck::pod_collect_to_vec(&raw);
                let period = self.0.queue.get_timestamp_period() as f64;
                (t[1] > t[0]).then(|| (t[1] - t[0]) as f64 * period / 1e6)
            }
            None => {
                self.sync()?;
                None
            }
        };
        Ok(Timing { gpu_ms, wall_ms: start.elapsed().as_secs_f64() * 1e3 })
    }

    /// Compiles (or finds) the pipeline, without dispatching; errors name the shader.
    pub fn prepare(&self, kernel: &str, entry: &str, constants: &[(&str, f64)]) -> Result<()> {
        self.0.pipelines.get(&self.0.device, kernel, entry, constants).map(|_| ())
    }

    /// Compiles every `(kernel, entry, constants)` now, so the first step
    /// of a job does not pay for pipeline creation (seconds on software
    /// adapters), and returns how long each took (near zero when cached).
    /// Stops at the first pipeline that fails, naming it.
    pub fn warm_up(&self, pipelines: &[WarmUp<'_>]) -> Result<Vec<web_time::Duration>> {
        pipelines
            .iter()
            .map(|&(kernel, entry, constants)| {
                let start = web_time::Instant::now();
                self.prepare(kernel, entry, constants)?;
                Ok(start.elapsed())
            })
            .collect()
    }
}

/// One pipeline for [`Context::warm_up`]: kernel (file stem), entry point,
/// override constants (as the launchers pass them).
pub type WarmUp<'a> = (&'a str, &'a str, &'a [(&'a str, f64)]);

/// The limits [`Context::from_adapter`] asks for: the adapter's, or with
/// `KAIRO_LIMITS=default` WebGPU's defaults (`wgpu::Limits::default()`).
fn requested_limits(adapter: &wgpu::Adapter) -> Result<wgpu::Limits> {
    match std::env::var("KAIRO_LIMITS").as_deref().map(str::trim) {
        Err(_) | Ok("") | Ok("adapter") => Ok(adapter.limits()),
        Ok("default") => Ok(wgpu::Limits::default()),
        Ok(other) => Err(Error::InvalidArgument(format!("KAIRO_LIMITS={other}: expected `default` or `adapter`"))),
    }
}

/// Validation and out-of-memory scopes pushed together, popped together.
///
/// On the web a popped scope's error arrives only when the browser's event
/// loop runs, so nothing could wait for it where kairo pops: there the
/// scopes are not pushed, and errors reach the device's uncaptured-error
/// handler, which kairo reads at the next readback (a host that hands
/// kairo its own device on the web sees them in its handler).
pub(crate) struct ErrorScope {
    #[cfg(not(target_arch = "wasm32"))]
    oom: wgpu::ErrorScopeGuard,
    #[cfg(not(target_arch = "wasm32"))]
    validation: wgpu::ErrorScopeGuard,
}

impl ErrorScope {
    #[cfg(not(target_arch = "wasm32"))]
    pub(crate) fn push(device: &wgpu::Device) -> Self {
        let oom = device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let validation = device.push_error_scope(wgpu::ErrorFilter::Validation);
        ErrorScope { oom, validation }
    }

    #[cfg(not(target_arch = "wasm32"))]
    pub(crate) fn pop(self, what: &str) -> Result<()> {
        let v = pollster::block_on(self.validation.pop());
        let o = pollster::block_on(self.oom.pop());
        match v.or(o) {
            None => Ok(()),
            Some(e) => Err(Error::Gpu { context: what.to_string(), message: e.to_string() }),
        }
    }

    #[cfg(target_arch = "wasm32")]
    pub(crate) fn push(_: &wgpu::Device) -> Self {
        ErrorScope {}
    }

    #[cfg(target_arch = "wasm32")]
    pub(crate) fn pop(self, _: &str) -> Result<()> {
        Ok(())
    }
}
