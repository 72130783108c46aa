//! `cargo bench`: the same kernel benchmarks as `kairo bench`.
//! Pass sizes after `--`, e.g. `cargo bench -- 256,512`.

fn main() {
    env_logger::init();
    let sizes: Option<Vec<usize>> = std::env::args()
        .skip(1)
        .find(|a| a.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .map(|s| s.split(',').filter_map(|x| x.parse().ok()).collect());
    let ctx = match kairo::Context::new() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    println!("adapter: {}", ctx.describe());
    let cfg = kairo::bench::BenchConfig { sizes, ..Default::default() };
    if let Err(e) = kairo::bench::run(&ctx, &cfg, |r| println!("{}", kairo::bench::format_result(r))) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
