//! kairo in a browser tab: the page's bindings to the engine.
//!
//! Everything here is glue. The models, trainers, kernels and checkpoint
//! formats are kairo's own, the same code the native command line runs;
//! only the readbacks differ: the page awaits the `*_async` forms, because
//! a buffer map completes only when the browser's event loop runs. Each
//! session is a trainer behind a [`Slot`], so a method that awaits owns the
//! trainer while it runs and a second call meanwhile is refused with a
//! clear error instead of racing it.
//!
//! Results cross to JavaScript as JSON strings (small: losses, statistics)
//! or bytes (checkpoints, PNG sample grids).

use std::cell::RefCell;
use std::io::Cursor;
use std::path::Path;
use std::rc::Rc;

use kairo::data::shapes::Shapes;
use kairo::data::text::TextCorpus;
use kairo::jobs::adding::{input_grad_norms_async, AddingTrainer, SeqConfig};
use kairo::jobs::gan::checkpoint as gan_checkpoint;
use kairo::jobs::gan::report::grid_image;
use kairo::jobs::gan::trainer::{record_generate, uniform_noise, GanConfig, GanData, GanTrainer};
use kairo::jobs::text::{sample_async, CharModel, CharShape, TextConfig, TextTrainer};
use kairo::nn::dcgan::{DcganConfig, Generator};
use kairo::nn::rnn::CellKind;
use kairo::{Context, Tensor};
use rand::SeedableRng;
use serde::Deserialize;
use wasm_bindgen::prelude::*;

/// Panics and `log` records go to the browser console.
#[wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
    let _ = log::set_logger(&ConsoleLog).map(|()| log::set_max_level(log::LevelFilter::Warn));
}

struct ConsoleLog;

impl log::Log for ConsoleLog {
    fn enabled(&self, m: &log::Metadata) -> bool {
        m.level() <= log::Level::Warn
    }
    fn log(&self, r: &log::Record) {
        let line = format!("kairo {}: {}", r.level(), r.args());
        match r.level() {
            log::Level::Error => web_sys::console::error_1(&line.into()),
            _ => web_sys::console::warn_1(&line.into()),
        }
    }
    fn flush(&self) {}
}

fn js_err(e: impl std::fmt::Display) -> JsValue {
    JsValue::from(js_sys::Error::new(&e.to_string()))
}

fn json(v: serde_json::Value) -> JsValue {
    JsValue::from_str(&v.to_string())
}

/// A value one awaiting method owns at a time.
struct Slot<T>(Rc<RefCell<Option<T>>>);

impl<T> Clone for Slot<T> {
    fn clone(&self) -> Self {
        Slot(self.0.clone())
    }
}

impl<T> Slot<T> {
    fn new(t: T) -> Self {
        Slot(Rc::new(RefCell::new(Some(t))))
    }
    fn take(&self) -> Result<T, JsValue> {
        self.0.borrow_mut().take().ok_or_else(|| js_err("busy: the previous call on this session has not finished"))
    }
    fn put(&self, t: T) {
        *self.0.borrow_mut() = Some(t);
    }
}

/// Runs `work` on the slot's value and puts it back, as a promise.
fn with_slot<T: 'static>(
    slot: &Slot<T>,
    work: impl for<'a> FnOnce(&'a mut T) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<JsValue, JsValue>> + 'a>>
        + 'static,
) -> js_sys::Promise {
    let slot = slot.clone();
    wasm_bindgen_futures::future_to_promise(async move {
        let mut t = slot.take()?;
        let out = work(&mut t).await;
        slot.put(t);
        out
    })
}

/// The page's device: the browser's WebGPU adapter.
#[wasm_bindgen]
pub struct Engine {
    ctx: Context,
}

#[wasm_bindgen]
impl Engine {
    /// Opens the browser's WebGPU adapter (an error naming what to enable
    /// where there is none).
    pub async fn open() -> Result<Engine, JsValue> {
        let ctx = Context::new_async().await.map_err(js_err)?;
        Ok(Engine { ctx })
    }

    /// The adapter, its limits and the kernels kairo runs on it, as JSON.
    pub fn describe(&self) -> JsValue {
        let i = self.ctx.adapter_info();
        let l = self.ctx.limits();
        json(serde_json::json!({
            "adapter": self.ctx.describe(),
            "name": i.name, "vendor": i.vendor, "driver": i.driver, "driver_info": i.driver_info,
            "backend": format!("{:?}", i.backend), "device_type": format!("{:?}", i.device_type),
            "subgroups": self.ctx.capabilities().subgroups, "subgroup_sizes": [i.subgroup_min_size, i.subgroup_max_size],
            "timestamps": self.ctx.capabilities().timestamps,
            "max_storage_buffers_per_shader_stage": l.max_storage_buffers_per_shader_stage,
            "max_compute_invocations_per_workgroup": l.max_compute_invocations_per_workgroup,
            "max_compute_workgroup_storage_size": l.max_compute_workgroup_storage_size,
            "max_storage_buffer_binding_size": l.max_storage_buffer_binding_size,
            "subgroup_kernels_run": self.ctx.subgroup_kernels_run(),
        }))
    }
}

fn cell(name: &str) -> Result<CellKind, JsValue> {
    name.parse().map_err(js_err)
}

/// The adding problem's settings as the page sends them.
#[derive(Deserialize)]
struct AddingSettings {
    cell: String,
    length: usize,
    hidden: usize,
    batch: usize,
    steps: usize,
    lr: f32,
    clip: f32,
    seed: u64,
}

/// The adding problem with an LSTM (or GRU, tanh RNN), step by step.
#[wasm_bindgen]
pub struct AddingSession {
    slot: Slot<AddingTrainer>,
    ctx: Context,
    cfg: SeqConfig,
}

#[wasm_bindgen]
impl AddingSession {
    /// A fresh seeded run; `settings` is JSON (see `AddingSettings`).
    #[wasm_bindgen(constructor)]
    pub fn new(engine: &Engine, settings: &str) -> Result<AddingSession, JsValue> {
        let s: AddingSettings = serde_json::from_str(settings).map_err(js_err)?;
        let cfg = SeqConfig {
            cell: cell(&s.cell)?,
            length: s.length,
            hidden: s.hidden,
            batch: s.batch,
            steps: s.steps,
            lr: s.lr,
            clip: s.clip,
            seed: s.seed,
            ..SeqConfig::default()
        };
        let trainer = AddingTrainer::new(&engine.ctx, &cfg).map_err(js_err)?;
        Ok(AddingSession { slot: Slot::new(trainer), ctx: engine.ctx.clone(), cfg })
    }

    /// `n` steps; resolves to JSON `{done, losses: [...]}`.
    pub fn train(&self, n: u32) -> js_sys::Promise {
        with_slot(&self.slot, move |t| {
            Box::pin(async move {
                let mut losses = Vec::with_capacity(n as usize);
                for _ in 0..n {
                    losses.push(t.step_async().await.map_err(js_err)?.loss);
                }
                Ok(json(serde_json::json!({ "done": t.steps_done(), "losses": losses })))
            })
        })
    }

    /// Chooses the recurrent step kernel by timing each candidate on a
    /// throwaway run (the browser cannot time kernels as they record);
    /// resolves to JSON `[[kernel, seconds per step], ...]`, the choice
    /// first (empty where the adapter's rule decides anyway).
    pub fn tune(&self) -> js_sys::Promise {
        with_slot(&self.slot, |t| {
            Box::pin(async move {
                let times = t.tune_async().await.map_err(js_err)?;
                let v: Vec<(&str, f64)> = times.iter().map(|(k, s)| (k.name(), *s)).collect();
                Ok(json(serde_json::json!(v)))
            })
        })
    }

    /// Held-out MSE; resolves to a number.
    pub fn evaluate(&self) -> js_sys::Promise {
        with_slot(&self.slot, |t| Box::pin(async move { Ok(JsValue::from(t.evaluate_async().await.map_err(js_err)?)) }))
    }

    /// ‖∂L/∂x_t‖ for t = 1 … T on one seeded batch; resolves to JSON.
    pub fn grad_norms(&self) -> js_sys::Promise {
        let (ctx, cfg) = (self.ctx.clone(), self.cfg.clone());
        with_slot(&self.slot, move |t| {
            Box::pin(async move {
                let g = input_grad_norms_async(&ctx, t.model(), cfg.length, cfg.batch, cfg.seed).await.map_err(js_err)?;
                Ok(json(serde_json::json!(g)))
            })
        })
    }

    /// The model and optimiser as a safetensors training file (the names
    /// of kairo's state dicts); resolves to a Uint8Array.
    pub fn checkpoint(&self) -> js_sys::Promise {
        with_slot(&self.slot, |t| {
            Box::pin(async move {
                let name = Path::new("kairo-adding.safetensors");
                let b = kairo::io::training::training_bytes(name, t.model(), t.optimizer(), &[("task", "adding")])
                    .await
                    .map_err(js_err)?;
                Ok(bytes(b))
            })
        })
    }
}

/// The character model's settings as the page sends them.
#[derive(Deserialize)]
struct TextSettings {
    cell: String,
    embed: usize,
    hidden: usize,
    layers: usize,
    seq_len: usize,
    batch: usize,
    lr: f32,
    seed: u64,
}

/// The character model trained on text from the page.
#[wasm_bindgen]
pub struct TextSession {
    slot: Slot<TextTrainer>,
    ctx: Context,
}

#[wasm_bindgen]
impl TextSession {
    /// A fresh seeded run on `text`; `settings` is JSON (see `TextSettings`).
    #[wasm_bindgen(constructor)]
    pub fn new(engine: &Engine, text: &str, settings: &str) -> Result<TextSession, JsValue> {
        let s: TextSettings = serde_json::from_str(settings).map_err(js_err)?;
        let corpus = TextCorpus::from_text(text).map_err(js_err)?;
        let cfg = TextConfig {
            shape: CharShape { cell: cell(&s.cell)?, embed: s.embed, hidden: s.hidden, layers: s.layers },
            seq_len: s.seq_len,
            batch: s.batch,
            lr: s.lr,
            seed: s.seed,
            steps: usize::MAX,
            sample_every: 0,
            checkpoint: None,
            ..TextConfig::default()
        };
        let trainer = TextTrainer::new(&engine.ctx, corpus, &cfg).map_err(js_err)?;
        Ok(TextSession { slot: Slot::new(trainer), ctx: engine.ctx.clone() })
    }

    /// `n` steps; resolves to JSON `{done, losses: [...]}` (nats per character).
    pub fn train(&self, n: u32) -> js_sys::Promise {
        with_slot(&self.slot, move |t| {
            Box::pin(async move {
                let mut losses = Vec::with_capacity(n as usize);
                for _ in 0..n {
                    losses.push(t.step_async(false).await.map_err(js_err)?);
                }
                Ok(json(serde_json::json!({ "done": t.steps_done(), "losses": losses })))
            })
        })
    }

    /// `len` characters after `prompt`; resolves to a string.
    pub fn sample(&self, prompt: String, len: usize, temperature: f32, seed: u64) -> js_sys::Promise {
        let ctx = self.ctx.clone();
        with_slot(&self.slot, move |t| Box::pin(sample_text(ctx, t.model(), prompt, len, temperature, seed)))
    }

    /// The same file `kairo train seq --task text --checkpoint` writes;
    /// resolves to a Uint8Array.
    pub fn checkpoint(&self) -> js_sys::Promise {
        with_slot(&self.slot, |t| {
            Box::pin(async move {
                let b = t.checkpoint_bytes().await.map_err(js_err)?;
                Ok(bytes(b))
            })
        })
    }
}

/// A character model loaded from a checkpoint (native or from this page).
#[wasm_bindgen]
pub struct TextModel {
    slot: Slot<CharModel>,
    ctx: Context,
    info: String,
}

#[wasm_bindgen]
impl TextModel {
    /// Loads a `kairo train seq --task text` checkpoint's bytes (`name`
    /// labels them in errors).
    pub fn load(engine: &Engine, name: &str, bytes: &[u8]) -> Result<TextModel, JsValue> {
        let model = CharModel::from_bytes(&engine.ctx, Path::new(name), bytes).map_err(js_err)?;
        let s = model.shape;
        let info = format!(
            "{} × {} {} (hidden {}, embedding {}), {} characters in the vocabulary",
            s.layers,
            s.cell.name(),
            if s.layers == 1 { "layer" } else { "layers" },
            s.hidden,
            s.embed,
            model.vocab.len()
        );
        Ok(TextModel { slot: Slot::new(model), ctx: engine.ctx.clone(), info })
    }

    /// What the file holds, in words.
    pub fn describe(&self) -> String {
        self.info.clone()
    }

    /// `len` characters after `prompt` (as `kairo sample seq`); resolves to a string.
    pub fn sample(&self, prompt: String, len: usize, temperature: f32, seed: u64) -> js_sys::Promise {
        let ctx = self.ctx.clone();
        with_slot(&self.slot, move |m| Box::pin(sample_text(ctx, m, prompt, len, temperature, seed)))
    }
}

/// `len` characters of `model` after `prompt`, seeded, as a JS string.
async fn sample_text(
    ctx: Context,
    model: &CharModel,
    prompt: String,
    len: usize,
    temperature: f32,
    seed: u64,
) -> Result<JsValue, JsValue> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let s = sample_async(&ctx, model, &prompt, len, temperature, &mut rng).await.map_err(js_err)?;
    Ok(JsValue::from_str(&s))
}

/// Bytes (a checkpoint, a PNG) as a Uint8Array.
fn bytes(b: Vec<u8>) -> JsValue {
    js_sys::Uint8Array::from(b.as_slice()).into()
}

/// The DCGAN's settings as the page sends them.
#[derive(Deserialize)]
struct GanSettings {
    image_size: usize,
    channels: usize,
    ngf: usize,
    ndf: usize,
    batch: usize,
    lr: f32,
    grid: usize,
    seed: u64,
}

/// The DCGAN on the built-in shapes, iteration by iteration.
#[wasm_bindgen]
pub struct GanSession {
    slot: Slot<GanTrainer>,
}

#[wasm_bindgen]
impl GanSession {
    /// A fresh seeded run; `settings` is JSON (see `GanSettings`).
    #[wasm_bindgen(constructor)]
    pub fn new(engine: &Engine, settings: &str) -> Result<GanSession, JsValue> {
        let s: GanSettings = serde_json::from_str(settings).map_err(js_err)?;
        let model = DcganConfig { image_size: s.image_size, channels: s.channels, ngf: s.ngf, ndf: s.ndf, ..DcganConfig::default() };
        let config =
            GanConfig { model, batch: s.batch, lr: s.lr, grid: s.grid, seed: s.seed, iters: u64::MAX, ..GanConfig::default() };
        let data = GanData::Shapes(Shapes::new(s.image_size, s.channels, s.seed).map_err(js_err)?);
        let trainer = GanTrainer::new(&engine.ctx, config, data).map_err(js_err)?;
        Ok(GanSession { slot: Slot::new(trainer) })
    }

    /// `n` iterations; resolves to JSON `{done, stats: [[loss_d, loss_g, D(x), D(G(z))], ...]}`.
    pub fn train(&self, n: u32) -> js_sys::Promise {
        with_slot(&self.slot, move |t| {
            Box::pin(async move {
                let mut stats = Vec::with_capacity(n as usize);
                for _ in 0..n {
                    let s = t.step_async().await.map_err(js_err)?;
                    stats.push([s.loss_d, s.loss_g, s.d_x, s.d_g_z]);
                }
                Ok(json(serde_json::json!({ "done": t.iteration, "stats": stats })))
            })
        })
    }

    /// The fixed-noise sample grid as PNG bytes (a Uint8Array), as the
    /// native run's grids are drawn.
    pub fn grid(&self) -> js_sys::Promise {
        with_slot(&self.slot, |t| {
            Box::pin(async move {
                let images = t.generate_async(&t.fixed_noise).await.map_err(js_err)?;
                png_grid(&images, &t.config.model).map(bytes)
            })
        })
    }

    /// The same file `kairo train gan` writes as OUT/checkpoint.safetensors;
    /// resolves to a Uint8Array.
    pub fn checkpoint(&self) -> js_sys::Promise {
        with_slot(&self.slot, |t| {
            Box::pin(async move {
                let b = gan_checkpoint::to_bytes(t).await.map_err(js_err)?;
                Ok(bytes(b))
            })
        })
    }
}

/// A generator loaded from a `kairo train gan` checkpoint.
#[wasm_bindgen]
pub struct GanModel {
    slot: Slot<Generator>,
    ctx: Context,
}

#[wasm_bindgen]
impl GanModel {
    /// Loads a checkpoint's bytes (`name` labels them in errors).
    pub fn load(engine: &Engine, name: &str, bytes: &[u8]) -> Result<GanModel, JsValue> {
        let g = gan_checkpoint::generator_from_bytes(&engine.ctx, Path::new(name), bytes).map_err(js_err)?;
        Ok(GanModel { slot: Slot::new(g), ctx: engine.ctx.clone() })
    }

    /// `n` samples from seeded uniform noise as a PNG grid (as `kairo sample gan`).
    pub fn grid(&self, n: usize, seed: u64) -> js_sys::Promise {
        let ctx = self.ctx.clone();
        with_slot(&self.slot, move |g| {
            Box::pin(async move {
                let c = g.config;
                let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
                let noise = Tensor::from_slice(&ctx, &uniform_noise(n, c.nz, &mut rng), &[n, c.nz]).map_err(js_err)?;
                let images = record_generate(g, &noise).map_err(js_err)?.to_vec_async().await.map_err(js_err)?;
                png_grid(&images, &c).map(bytes)
            })
        })
    }
}

/// Images (n, C, S, S) in [-1, 1] as a PNG grid, 2× for small images.
fn png_grid(images: &[f32], m: &DcganConfig) -> Result<Vec<u8>, JsValue> {
    let scale = if m.image_size <= 32 { 2 } else { 1 };
    let img = grid_image(images, m.channels, m.image_size, scale).map_err(js_err)?;
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).map_err(js_err)?;
    Ok(out.into_inner())
}

/// The text `kairo train seq --task text` trains on without `--data`.
#[wasm_bindgen]
pub fn builtin_corpus() -> String {
    kairo::data::text::BUILTIN_CORPUS.to_string()
}
