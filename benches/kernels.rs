//! `cargo bench`: the same kernel benchmarks as `kairo bench`.
//! Pass sizes after `--`, e.g. `cargo bench -- 256,512`.

fn fail(message: impl std::fmt::Display) -> ! {
    eprintln!("error: {message}");
    std::process::exit(1);
}

fn main() {
    env_logger::init();
    let sizes: Option<Vec<usize>> = std::env::args()
        .skip(1)
        .find(|a| a.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .map(|s| s.split(',').map(|x| x.parse().unwrap_or_else(|_| fail(format!("bench size {x:?} is not a number")))).collect());
    let ctx = kairo::Context::new().unwrap_or_else(|e| fail(e));
    println!("adapter: {}", ctx.describe());
    let cfg = kairo::bench::BenchConfig { sizes, ..Default::default() };
    if let Err(e) = kairo::bench::run(&ctx, &cfg, |r| println!("{}", kairo::bench::format_result(r))) {
        fail(e);
    }
}
