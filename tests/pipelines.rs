//! Every entry point of every kernel builds on the current adapter, with the
//! override constants kairo passes, each under a time limit: a software
//! adapter (SwiftShader) whose shader compiler blows up on one kernel hangs
//! training at its first step, which no numeric test would name. Prints the
//! slowest pipelines. Subgroup entry points are skipped (and listed) where
//! the adapter lacks Features::SUBGROUP.

mod common;

use std::sync::mpsc;
use std::time::{Duration, Instant};

use kairo::kernels::{contract, matmul};

/// The most one pipeline may take to build.
const LIMIT: Duration = Duration::from_secs(20);

type Constants = Vec<(&'static str, f64)>;

/// The matmul shaders' specialisations: every transpose pair without bias,
/// and bias with every activation (a linear layer's forward).
fn matmul_specs() -> Vec<Constants> {
    let b = |x: bool| if x { 1.0 } else { 0.0 };
    let mut out = Vec::new();
    for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
        out.push(vec![("TRANS_A", b(ta)), ("TRANS_B", b(tb)), ("HAS_BIAS", 0.0), ("ACT", 0.0)]);
    }
    for act in 0..=4 {
        out.push(vec![("TRANS_A", 0.0), ("TRANS_B", 0.0), ("HAS_BIAS", 1.0), ("ACT", act as f64)]);
    }
    out
}

/// The values each other override takes in kairo's launchers; each is varied
/// on its own with the rest at their defaults.
fn overrides(kernel: &str) -> Vec<(&'static str, Vec<f64>)> {
    let flag = |name| (name, vec![0.0, 1.0]);
    let range = |name, n: u32| (name, (0..n).map(f64::from).collect());
    match kernel {
        "reduce" => vec![range("OP", 3)],
        "elementwise" => vec![range("UNARY_OP", 10), range("BINARY_OP", 6), flag("BROADCAST")],
        "softmax" => vec![flag("LOG")],
        "optim" => vec![flag("DECOUPLED")],
        "ctc" | "ctc_subgroup" => vec![flag("LOGITS")],
        "batchnorm" => vec![flag("HAS_AFFINE"), flag("TRAINING")],
        "lookahead" | "conv" => vec![flag("HAS_BIAS")],
        _ => Vec::new(),
    }
}

/// Every constant set `entry` of `kernel` is built with: the defaults, then
/// the variations above.
fn constant_sets(kernel: &str, entry: &str) -> Vec<Constants> {
    let register_tile = kernel == "matmul" && matmul::REGISTER_TILES.iter().any(|e| e.name == entry);
    if matches!(kernel, "matmul" | "matmul_scalar" | "matmul_subgroup") {
        let mut sets = matmul_specs();
        if register_tile {
            sets.iter_mut().for_each(|s| s.extend([("WG_X", 8.0), ("WG_Y", 8.0)]));
        }
        return sets;
    }
    let mut sets = vec![Vec::new()];
    for (name, values) in overrides(kernel) {
        sets.extend(values.into_iter().map(|v| vec![(name, v)]));
    }
    if kernel == "conv" {
        // A 3x3 convolution of 28x28 images, as the convolution tests specialise it.
        let geometry = [("C", 3.0), ("H", 28.0), ("W", 28.0), ("NB", 4.0), ("OH", 28.0), ("OW", 28.0)];
        let kernel_shape = [("KH", 3.0), ("KW", 3.0), ("S", 1.0), ("P", 1.0), ("D", 1.0), ("CIN", 3.0)];
        sets.push(geometry.into_iter().chain(kernel_shape).collect());
    }
    sets
}

struct Built {
    name: String,
    constants: Constants,
    took: Duration,
}

/// What the building thread reports.
enum Progress {
    /// It started on this pipeline.
    Started(String),
    /// It finished one, successfully or not.
    Done(Built, kairo::Result<()>),
}

#[test]
fn every_pipeline_builds_in_time() {
    let ctx = common::ctx();
    let reqs = contract::requirements().expect("every shader reflects");
    let subgroups = ctx.capabilities().subgroups;
    let (skipped, wanted): (Vec<_>, Vec<_>) = reqs.into_iter().partition(|r| r.subgroups && !subgroups);
    for r in &skipped {
        println!("skipped (adapter lacks Features::SUBGROUP): {}.{}", r.kernel, r.entry);
    }
    let jobs: Vec<(&'static str, String, Constants)> = wanted
        .iter()
        .flat_map(|r| constant_sets(r.kernel, &r.entry).into_iter().map(|c| (r.kernel, r.entry.clone(), c)))
        .collect();
    let total = jobs.len();
    let (tx, rx) = mpsc::channel();
    let builder = ctx.clone();
    std::thread::spawn(move || {
        for (kernel, entry, constants) in jobs {
            let name = format!("{kernel}.{entry}");
            let _ = tx.send(Progress::Started(name.clone()));
            let start = Instant::now();
            let res = builder.warm_up(&[(kernel, &entry, &constants)]);
            let _ = tx.send(Progress::Done(Built { name, constants, took: start.elapsed() }, res.map(|_| ())));
        }
    });
    let mut built = Vec::new();
    let mut current = String::new();
    let start = Instant::now();
    loop {
        match rx.recv_timeout(LIMIT) {
            Ok(Progress::Started(name)) => current = name,
            Ok(Progress::Done(b, res)) => {
                if let Err(e) = res {
                    panic!("{} {:?} failed to build: {e}", b.name, b.constants);
                }
                built.push(b);
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                report(&mut built, &ctx.describe(), start.elapsed());
                panic!("{current} took over {LIMIT:?} to build on {} ({} of {total} built)", ctx.describe(), built.len())
            }
        }
    }
    assert_eq!(built.len(), total);
    report(&mut built, &ctx.describe(), start.elapsed());
    assert!(built.iter().all(|b| b.took <= LIMIT), "a pipeline took over {LIMIT:?}");
}

/// Prints the ten slowest builds and the slowest per entry point.
fn report(built: &mut [Built], adapter: &str, elapsed: Duration) {
    built.sort_by_key(|b| std::cmp::Reverse(b.took));
    println!("{} pipelines built on {adapter} in {elapsed:.2?}; slowest:", built.len());
    for b in built.iter().take(10) {
        println!("  {:>10.1?}  {} {:?}", b.took, b.name, b.constants);
    }
    let mut per_entry: Vec<(&str, Duration)> = Vec::new();
    for b in built.iter() {
        match per_entry.iter_mut().find(|(n, _)| *n == b.name) {
            Some((_, d)) => *d = (*d).max(b.took),
            None => per_entry.push((&b.name, b.took)),
        }
    }
    per_entry.sort_by(|a, b| a.0.cmp(b.0));
    println!("slowest build per entry point:");
    for (name, d) in &per_entry {
        println!("  {d:>10.1?}  {name}");
    }
}
