// kairo's page: the three trainers driven step by step, their plots, and
// a test mode (?test=...) that reports results to the server that served
// the page (tests/web.rs). All numerics run in kairo's wasm and WGSL.

import init, * as kairo from "./pkg/kairo_web.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const t0 = performance.now();

function showError(message) {
  const e = $("error");
  e.textContent = message;
  e.hidden = false;
}

function settings(form) {
  const out = {};
  for (const el of form.elements) {
    if (!el.name || el.type === "file") continue;
    out[el.name] = el.type === "number" ? Number(el.value) : el.value;
  }
  return out;
}

function button(form, action) {
  return form.querySelector(`[data-action="${action}"]`);
}

function download(bytes, name) {
  const url = URL.createObjectURL(new Blob([bytes], { type: "application/octet-stream" }));
  const a = Object.assign(document.createElement("a"), { href: url, download: name });
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function showPng(img, bytes) {
  if (img.src) URL.revokeObjectURL(img.src);
  img.src = URL.createObjectURL(new Blob([bytes], { type: "image/png" }));
}

// A line plot of one or more series on a canvas, optionally log₁₀ in y.
function plot(canvas, series, { log = false, colors = ["#1f77b4", "#ff7f0e", "#2ca02c"], xLabel = "" } = {}) {
  const g = canvas.getContext("2d");
  const [w, h, l, r, t, b] = [canvas.width, canvas.height, 52, 10, 10, 26];
  g.clearRect(0, 0, w, h);
  g.fillStyle = "#fff";
  g.fillRect(0, 0, w, h);
  const f = (v) => (log ? Math.log10(Math.max(v, 1e-30)) : v);
  const all = series.flat().filter(Number.isFinite).map(f);
  if (all.length === 0) return;
  let [lo, hi] = [Math.min(...all), Math.max(...all)];
  if (hi - lo < 1e-9) [lo, hi] = [lo - 0.5, hi + 0.5];
  const n = Math.max(...series.map((s) => s.length));
  const x = (i) => l + ((w - l - r) * i) / Math.max(n - 1, 1);
  const y = (v) => t + ((h - t - b) * (hi - f(v))) / (hi - lo);
  g.strokeStyle = "#999";
  g.strokeRect(l, t, w - l - r, h - t - b);
  g.fillStyle = "#333";
  g.font = "11px sans-serif";
  for (let k = 0; k <= 4; k++) {
    const v = lo + ((hi - lo) * k) / 4;
    const label = (log ? 10 ** v : v).toPrecision(3);
    g.fillText(label, 2, t + ((h - t - b) * (4 - k)) / 4 + 4);
  }
  g.fillText(`${xLabel} 1 … ${n}`, l, h - 8);
  series.forEach((s, k) => {
    g.strokeStyle = colors[k % colors.length];
    g.beginPath();
    s.forEach((v, i) => (i ? g.lineTo(x(i), y(v)) : g.moveTo(x(i), y(v))));
    g.stroke();
  });
}

// Steps per second over the last few seconds.
class Rate {
  constructor() { this.marks = []; }
  add(steps) {
    const now = performance.now();
    this.marks.push([now, steps]);
    while (this.marks.length > 2 && now - this.marks[0][0] > 5000) this.marks.shift();
  }
  get perSecond() {
    if (this.marks.length < 2) return 0;
    const [[a], [z]] = [this.marks[0], this.marks[this.marks.length - 1]];
    const steps = this.marks.slice(1).reduce((s, m) => s + m[1], 0);
    return (1000 * steps) / (z - a);
  }
}

// Runs `chunk` (which trains a few steps and returns how many) until it
// says stop, `total` steps are done or the Stop button is pressed.
async function loop(form, status, total, chunk, label) {
  const [start, stop, dl] = ["start", "stop", "download"].map((a) => button(form, a));
  let stopped = false;
  const onStop = () => { stopped = true; };
  stop.addEventListener("click", onStop);
  [start.disabled, stop.disabled, dl.disabled] = [true, false, true];
  const rate = new Rate();
  const begin = performance.now();
  // The first chunk pays for compiling every pipeline: the warm rate
  // counts the steps after it.
  let [done, warmFrom, warmSteps] = [0, 0, 0];
  try {
    while (!stopped && done < total) {
      const n = await chunk(done);
      done += n;
      rate.add(n);
      if (warmFrom) warmSteps += n; else warmFrom = performance.now();
      status.textContent = `${label} ${done} / ${total} · ${rate.perSecond.toFixed(2)} steps/s`;
    }
    const now = performance.now();
    const seconds = (now - begin) / 1000;
    const warm = warmSteps ? (1000 * warmSteps) / (now - warmFrom) : done / seconds;
    status.textContent = `${label} ${done} / ${total} · ${warm.toFixed(2)} steps/s after the first (which compiles the kernels) · ${seconds.toFixed(1)} s in all`;
    return { done, seconds, steps_per_s: warm, first_chunk_s: (warmFrom - begin) / 1000 };
  } catch (e) {
    status.textContent = `stopped: ${e.message ?? e}`;
    throw e;
  } finally {
    stop.removeEventListener("click", onStop);
    [start.disabled, stop.disabled, dl.disabled] = [false, true, false];
  }
}

// ---- the adding problem ----

async function runAdding(engine, s) {
  const form = $("adding-form");
  const session = new kairo.AddingSession(engine, JSON.stringify({ clip: 1.0, seed: 1, ...s }));
  $("adding").session = session;
  $("adding-status").textContent = "timing the recurrent step kernels…";
  const tuned = JSON.parse(await session.tune());
  const tuning = tuned.length
    ? `step kernel ${tuned[0][0]} (${tuned.map(([k, s]) => `${k} ${(1000 * s).toFixed(0)} ms`).join(", ")})`
    : "step kernel by the adapter's rule";
  const losses = [];
  const grads = async () => plot($("adding-grads"), [JSON.parse(await session.grad_norms())], { log: true, xLabel: "t =" });
  await grads();
  const result = await loop(form, $("adding-status"), s.steps, async (done) => {
    const n = Math.min(10, s.steps - done);
    const r = JSON.parse(await session.train(n));
    losses.push(...r.losses);
    plot($("adding-loss"), [losses], { log: true, xLabel: "step" });
    if ((done + n) % 50 === 0 || done + n === s.steps) await grads();
    return n;
  }, "step");
  const test_mse = await session.evaluate();
  $("adding-status").textContent += ` · held-out MSE ${test_mse.toFixed(4)} · ${tuning}`;
  return { ...result, losses, test_mse, tuned };
}

// ---- the character model ----

async function runText(engine, s, text) {
  const form = $("text-form");
  const session = new kairo.TextSession(engine, text, JSON.stringify({ embed: 32, lr: 0.005, seed: 1, ...s }));
  $("text").session = session;
  const bits = [];
  const samples = $("text-samples");
  samples.textContent = "";
  const result = await loop(form, $("text-status"), s.steps, async (done) => {
    const n = Math.min(10, s.steps - done);
    const r = JSON.parse(await session.train(n));
    bits.push(...r.losses.map((v) => v / Math.LN2));
    plot($("text-loss"), [bits], { xLabel: "step" });
    if ((done + n) % s.every === 0 || done + n === s.steps) {
      const text = await session.sample(s.prompt, 200, 0.8, BigInt(done + n));
      samples.textContent = `— after ${done + n} steps —\n${s.prompt}${text}\n\n` + samples.textContent;
    }
    return n;
  }, "step");
  return { ...result, bits };
}

// ---- the DCGAN ----

async function runGan(engine, s) {
  const form = $("gan-form");
  const session = new kairo.GanSession(engine, JSON.stringify({ lr: 2e-4, grid: 64, seed: 1, ...s,
    image_size: Number(s.image_size), channels: Number(s.channels) }));
  $("gan").session = session;
  const [d, g] = [[], []];
  let grid = null;
  const result = await loop(form, $("gan-status"), s.iters, async (done) => {
    const n = Math.min(5, s.iters - done);
    const r = JSON.parse(await session.train(n));
    for (const [ld, lg] of r.stats) { d.push(ld); g.push(lg); }
    plot($("gan-loss"), [d, g], { xLabel: "iteration" });
    if ((done + n) % s.every === 0 || done + n === s.iters) {
      grid = await session.grid();
      showPng($("gan-grid"), grid);
      $("gan-grid-caption").textContent = `fixed-noise sample grid after ${done + n} iterations`;
    }
    return n;
  }, "iteration");
  return { ...result, loss_d: d, loss_g: g, grid };
}

// ---- checkpoints from files ----

async function fileBytes(input) {
  const file = input.files[0];
  if (!file) throw new Error("choose a .safetensors file first");
  return [file.name, new Uint8Array(await file.arrayBuffer())];
}

function wireLoaders(engine) {
  const tf = $("text-load");
  tf.elements.file.addEventListener("change", () => (button(tf, "sample").disabled = !tf.elements.file.files.length));
  button(tf, "sample").addEventListener("click", async () => {
    try {
      const [name, bytes] = await fileBytes(tf.elements.file);
      const model = kairo.TextModel.load(engine, name, bytes);
      $("text-load-status").textContent = `${name}: ${model.describe()}`;
      const s = settings(tf);
      $("text-loaded-sample").textContent = s.prompt + (await model.sample(s.prompt, s.len, s.temperature, BigInt(s.seed)));
    } catch (e) { $("text-load-status").textContent = `error: ${e.message ?? e}`; }
  });
  const gf = $("gan-load");
  gf.elements.file.addEventListener("change", () => (button(gf, "sample").disabled = !gf.elements.file.files.length));
  button(gf, "sample").addEventListener("click", async () => {
    try {
      const [name, bytes] = await fileBytes(gf.elements.file);
      const model = kairo.GanModel.load(engine, name, bytes);
      const s = settings(gf);
      showPng($("gan-loaded-grid"), await model.grid(s.n, BigInt(s.seed)));
      $("gan-load-status").textContent = `${name}: ${s.n} samples, seed ${s.seed}`;
    } catch (e) { $("gan-load-status").textContent = `error: ${e.message ?? e}`; }
  });
}

function wireTrainers(engine) {
  const jobs = [
    ["adding", () => runAdding(engine, settings($("adding-form"))), "kairo-adding.safetensors"],
    ["text", () => runText(engine, settings($("text-form")), $("text-corpus").value), "kairo-text.safetensors"],
    ["gan", () => runGan(engine, settings($("gan-form"))), "kairo-gan.safetensors"],
  ];
  for (const [id, run, file] of jobs) {
    const form = $(`${id}-form`);
    button(form, "start").addEventListener("click", () => run().catch((e) => showError(`${id}: ${e.message ?? e}`)));
    button(form, "download").addEventListener("click", async () => download(await $(id).session.checkpoint(), file));
  }
}

// ---- test mode: run one job from the query string, POST the result ----

async function report(body) {
  await fetch("/report", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
}

function base64(bytes) {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

async function testMode(engine, info, test) {
  const num = (k, d) => Number(params.get(k) ?? d);
  const base = { test, adapter: info, load_ms: performance.now() - t0 };
  if (test === "adding") {
    const s = { cell: params.get("cell") ?? "lstm", length: num("length", 50), hidden: num("hidden", 64), batch: num("batch", 64),
      steps: num("steps", 30), lr: num("lr", 0.01), seed: num("seed", 1) };
    const r = await runAdding(engine, s);
    return { ...base, settings: s, losses: r.losses, test_mse: r.test_mse, tuned: r.tuned, steps_per_s: r.steps_per_s, seconds: r.seconds, first_chunk_s: r.first_chunk_s };
  }
  if (test === "gan") {
    const s = { image_size: num("image_size", 32), channels: num("channels", 3), ngf: num("ngf", 32), ndf: num("ndf", 32),
      batch: num("batch", 64), iters: num("iters", 10), every: num("iters", 10), seed: num("seed", 1) };
    const r = await runGan(engine, s);
    return { ...base, settings: s, loss_d: r.loss_d, loss_g: r.loss_g, grid_png: base64(r.grid), steps_per_s: r.steps_per_s, seconds: r.seconds, first_chunk_s: r.first_chunk_s };
  }
  if (test === "sample") {
    const url = params.get("checkpoint");
    const bytes = new Uint8Array(await (await fetch(url)).arrayBuffer());
    const model = kairo.TextModel.load(engine, url, bytes);
    const prompt = params.get("prompt") ?? "The ";
    const text = await model.sample(prompt, num("len", 100), num("temperature", 0), BigInt(num("seed", 1)));
    $("text-loaded-sample").textContent = prompt + text;
    return { ...base, model: model.describe(), sample: text };
  }
  throw new Error(`unknown test ${test}`);
}

// What the browser says of its adapter (wgpu's WebGPU backend leaves the
// name empty): vendor, architecture, device, description.
async function browserAdapter() {
  const a = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
  const i = a?.info ?? {};
  return { vendor: i.vendor ?? "", architecture: i.architecture ?? "", device: i.device ?? "", description: i.description ?? "" };
}

async function main() {
  $("text-corpus").value = kairo.builtin_corpus();
  const test = params.get("test");
  if (!navigator.gpu) {
    const msg = "This browser has no WebGPU (navigator.gpu is missing). Use Chrome or Edge 113+, Safari 26+ or Firefox 141+; " +
      "on Linux start Chromium with --enable-unsafe-webgpu (or enable chrome://flags/#enable-unsafe-webgpu).";
    $("adapter").textContent = "No WebGPU.";
    showError(msg);
    if (test) await report({ test, error: msg });
    return;
  }
  let engine;
  try {
    engine = await kairo.Engine.open();
  } catch (e) {
    $("adapter").textContent = "No WebGPU adapter.";
    showError(e.message ?? String(e));
    if (test) await report({ test, error: e.message ?? String(e) });
    return;
  }
  const info = { ...JSON.parse(engine.describe()), browser: await browserAdapter() };
  const b = info.browser;
  const name = [b.vendor, b.architecture, b.device, b.description].filter(Boolean).join(" ") || "unnamed adapter";
  info.adapter = `${name} (WebGPU, ${info.device_type})`;
  $("adapter").textContent = `Adapter: ${info.adapter} · ${info.subgroup_kernels_run ? "subgroup" : "workgroup"} kernels · ` +
    `${info.max_storage_buffers_per_shader_stage} storage buffers per stage · ready in ${(performance.now() - t0).toFixed(0)} ms`;
  wireTrainers(engine);
  wireLoaders(engine);
  if (test) {
    try {
      await report(await testMode(engine, info, test));
    } catch (e) {
      showError(e.message ?? String(e));
      await report({ test, error: e.message ?? String(e) });
    }
  }
}

init().then(main).catch((e) => {
  showError(`kairo failed to start: ${e.message ?? e}`);
  if (params.get("test")) report({ test: params.get("test"), error: `start: ${e.message ?? e}` });
});
