//! Embedding: the host application creates its own wgpu device, hands it to
//! kairo, runs a matmul and reads the result, then runs a training job and
//! shows its progress its own way (jobs print nothing).
//!
//!     cargo run --example embed

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The host's own setup, as any wgpu application does it.
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle());
    let adapter = pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions {
        power_preference: wgpu::PowerPreference::HighPerformance,
        ..Default::default()
    }))?;
    let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
        label: Some("host app"),
        required_limits: adapter.limits(),
        ..Default::default()
    }))?;

    // Hand it to kairo; the host keeps its clones and can go on using them.
    let ctx = kairo::Context::from_wgpu(device.clone(), queue.clone());
    println!("kairo runs on the host's device: {}", ctx.describe());

    let a = kairo::Tensor::from_slice(&ctx, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3])?;
    let b = kairo::Tensor::from_slice(&ctx, &[1.0, 0.0, 0.0, 1.0, 1.0, 1.0], &[3, 2])?;
    let c = kairo::ops::matmul(&a, &b)?;
    let values = c.to_vec()?;
    println!("[[1 2 3] [4 5 6]] · [[1 0] [0 1] [1 1]] = {values:?}");
    assert_eq!(values, vec![4.0, 5.0, 10.0, 11.0]);

    // A job reports every step through a callback; a divergence is a typed error.
    let mut every_tenth = Vec::new();
    let run = match kairo::jobs::spirals::train_spirals(&ctx, 50, 100, 7, |p| {
        if p.step % 10 == 9 {
            every_tenth.push(p.loss);
        }
    }) {
        Err(kairo::Error::Diverged { step, value }) => return Err(format!("diverged at step {step} ({value})").into()),
        other => other?,
    };
    println!("spirals: loss every 10 steps {every_tenth:.3?}, accuracy {:.0}%", run.accuracy * 100.0);
    Ok(())
}
