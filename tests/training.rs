//! End to end on the tape: an MLP learns two interleaved spirals with SGD
//! and with Adam (accuracy asserted), a step is one submit, and a run
//! resumed from a checkpoint follows the uninterrupted loss trajectory.

mod common;

use common::{ctx, fresh_ctx};
use kairo::io::training;
use kairo::nn::loss::{cross_entropy, Reduction};
use kairo::nn::{Linear, Mlp};
use kairo::ops::Activation;
use kairo::optim::{Adam, Optimizer, Sgd};
use kairo::{jobs, Context, Tensor, Var};
use rand::SeedableRng;

fn spirals(per_class: usize, seed: u64) -> (Vec<f32>, Vec<i32>) {
    kairo::data::spirals::two_spirals(per_class, 1.5, 0.02, seed)
}

fn mlp(ctx: &Context, seed: u64) -> Mlp {
    Mlp::new(ctx, &[2, 48, 48, 2], Activation::Tanh, &mut rand::rngs::StdRng::seed_from_u64(seed)).unwrap()
}

/// One training step: forward, loss, then the jobs' step helper (backward,
/// optimiser, the one readback, hence the one submit); returns the loss.
fn step(model: &Mlp, opt: &mut dyn Optimizer, x: &Var, y: &Tensor) -> f32 {
    let loss = cross_entropy(&model.forward(x).unwrap(), y, None, Reduction::Mean).unwrap();
    jobs::train_step(1, &loss, model, opt, None, false).unwrap().loss
}

fn accuracy(model: &Mlp, x: &Var, labels: &[i32]) -> f32 {
    let logits = kairo::no_grad(|| model.forward(x).unwrap()).value().to_vec().unwrap();
    let right = labels.iter().enumerate().filter(|(i, &l)| ((logits[2 * i + 1] > logits[2 * i]) as i32) == l).count();
    right as f32 / labels.len() as f32
}

fn train(opt: &mut dyn Optimizer, steps: usize) -> f32 {
    let c = ctx();
    let (xy, labels) = spirals(100, 7);
    let x = Var::constant(Tensor::from_slice(&c, &xy, &[labels.len(), 2]).unwrap());
    let y = Tensor::from_i32(&c, &labels, &[labels.len()]).unwrap();
    let model = mlp(&c, 3);
    let before = accuracy(&model, &x, &labels);
    for _ in 0..steps {
        step(&model, opt, &x, &y);
    }
    let after = accuracy(&model, &x, &labels);
    assert!(after > before, "no learning: {before} -> {after}");
    eprintln!("two spirals: accuracy {before:.3} -> {after:.3} after {steps} steps");
    after
}

#[test]
fn mlp_learns_two_spirals_with_adam() {
    let acc = train(&mut Adam::new(0.02), 300);
    assert!(acc >= 0.95, "Adam reached only {:.1}% on two spirals", acc * 100.0);
}

#[test]
fn mlp_learns_two_spirals_with_sgd_momentum() {
    let acc = train(&mut Sgd::new(0.2).momentum(0.9), 600);
    assert!(acc >= 0.95, "SGD reached only {:.1}% on two spirals", acc * 100.0);
}

#[test]
fn a_training_step_is_one_submit() {
    let c = fresh_ctx();
    let (xy, labels) = spirals(32, 1);
    let x = Var::constant(Tensor::from_slice(&c, &xy, &[64, 2]).unwrap());
    let y = Tensor::from_i32(&c, &labels, &[64]).unwrap();
    let model = mlp(&c, 1);
    let mut opt = Adam::new(0.01);
    step(&model, &mut opt, &x, &y); // compiles pipelines, creates optimiser state
    for _ in 0..3 {
        let before = c.counters();
        step(&model, &mut opt, &x, &y);
        let after = c.counters();
        assert_eq!(after.submits - before.submits, 1, "{before:?} -> {after:?}");
        assert_eq!(after.readbacks - before.readbacks, 1);
    }
}

#[test]
fn resuming_from_a_checkpoint_continues_the_same_run() {
    let c = ctx();
    let dir = std::env::temp_dir().join(format!("kairo-resume-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("run.safetensors");
    let (xy, labels) = spirals(50, 5);
    let x = Var::constant(Tensor::from_slice(&c, &xy, &[100, 2]).unwrap());
    let y = Tensor::from_i32(&c, &labels, &[100]).unwrap();

    // Uninterrupted: 10 steps.
    let model = mlp(&c, 9);
    let mut opt = Adam::new(0.01);
    let straight: Vec<f32> = (0..10).map(|_| step(&model, &mut opt, &x, &y)).collect();

    // Interrupted after 5 steps: save the whole training state, rebuild
    // from the file into a differently initialised model.
    let model = mlp(&c, 9);
    let mut opt = Adam::new(0.01);
    let mut resumed: Vec<f32> = (0..5).map(|_| step(&model, &mut opt, &x, &y)).collect();
    training::save_training(&path, &model, &opt, &[("run", "spirals")]).unwrap();
    drop((model, opt));
    let model = mlp(&c, 1234);
    let mut opt = Adam::new(0.01);
    let meta = training::load_training(&c, &path, &model, &mut opt).unwrap();
    assert_eq!(meta["run"], "spirals");
    assert_eq!(opt.step_count(), 5);
    resumed.extend((0..5).map(|_| step(&model, &mut opt, &x, &y)));
    assert_eq!(resumed, straight, "loss trajectory after resume differs");

    // A model of another shape is refused before anything is written.
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    let other = Mlp { layers: vec![Linear::new(&c, 2, 8, true, &mut rng).unwrap()], activation: Activation::Tanh };
    let before = other.layers[0].weight.value().to_vec().unwrap();
    let err = training::load_training(&c, &path, &other, &mut Adam::new(0.01)).unwrap_err().to_string();
    assert!(err.contains("missing") || err.contains("`0.weight`"), "{err}");
    assert_eq!(other.layers[0].weight.value().to_vec().unwrap(), before);
    std::fs::remove_dir_all(&dir).ok();
}
