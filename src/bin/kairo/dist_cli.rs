//! `--distributed` (`kairo train speech|gan` under `mpirun`): MPI start,
//! the adapter of this rank, and the way out when a rank fails.

use std::sync::Arc;

use kairo::dist::Comm;
use kairo::gpu::{adapter, AdapterChoice};
use kairo::{Context, Result};

/// This process's place in a data-parallel run.
pub struct Ranks {
    pub comm: Arc<dyn Comm>,
    /// Index among the ranks on this machine (picks the adapter).
    pub local_rank: usize,
}

impl Ranks {
    /// Rank 0 prints and writes; the others train quietly.
    pub fn quiet(ranks: Option<&Ranks>) -> bool {
        ranks.is_some_and(|r| r.comm.rank() != 0)
    }

    /// The communicator, if any.
    pub fn comm(ranks: Option<&Ranks>) -> Option<Arc<dyn Comm>> {
        ranks.map(|r| r.comm.clone())
    }
}

/// MPI, when `distributed` (an error naming the fix in a build without the `mpi` feature).
pub fn start(distributed: bool) -> Result<Option<Ranks>> {
    if !distributed {
        return Ok(None);
    }
    #[cfg(feature = "mpi")]
    {
        let comm = kairo::dist::mpi::MpiComm::init()?;
        let local_rank = comm.local_rank();
        // Shared by the jobs' reducers on this one thread; MPI handles are not Send.
        #[allow(clippy::arc_with_non_send_sync)]
        let comm = Arc::new(comm);
        Ok(Some(Ranks { comm, local_rank }))
    }
    #[cfg(not(feature = "mpi"))]
    Err(kairo::Error::InvalidArgument(
        "--distributed: this kairo was built without MPI; build it with `cargo build --release --features mpi` \
         (needs libopenmpi-dev and libclang-dev) and start it with `mpirun -np N kairo train ... --distributed`"
            .into(),
    ))
}

/// The adapter of this rank: `KAIRO_ADAPTER` when set, else the local
/// rank's index (modulo their number) among the machine's adapters of the
/// best type and backend (two GPUs on Vulkan, not one GPU's Vulkan and GL
/// faces; on a CPU-only machine every rank takes lavapipe), in
/// `kairo::gpu::adapter::enumerate`'s order.
pub fn context(ranks: Option<&Ranks>) -> Result<Context> {
    let Some(r) = ranks else { return Context::new() };
    let choice = AdapterChoice::from_env()?;
    if choice.name.is_some() {
        return Context::with_choice(&choice);
    }
    let all = adapter::enumerate(&choice);
    let kind = |a: &wgpu::Adapter| (a.get_info().device_type, a.get_info().backend);
    let Some(best) = all.first().map(kind) else {
        return Context::with_choice(&choice);
    };
    let same: Vec<wgpu::Adapter> = all.into_iter().filter(|a| kind(a) == best).collect();
    Context::from_adapter(&same[r.local_rank % same.len()])
}

/// Ends the whole run when this rank failed: prints the error with the
/// rank, then MPI_Abort, so no rank waits forever in a collective. In one
/// process the error goes back to `main` as usual.
pub fn finish(ranks: Option<Ranks>, result: Result<()>) -> Result<()> {
    match (ranks, result) {
        (Some(r), Err(e)) if r.comm.size() > 1 => {
            rank_line(&format!("error: rank {} of {}: {e}\nending every rank (MPI_Abort)", r.comm.rank(), r.comm.size()));
            r.comm.abort(1)
        }
        (_, result) => result,
    }
}

/// A line per rank: which adapter it trains on.
pub fn announce(ranks: Option<&Ranks>, ctx: &Context) {
    if let Some(r) = ranks {
        rank_line(&format!("{} pid {}: adapter {}", r.comm.describe(), std::process::id(), ctx.describe()));
    }
}

/// `text` and a newline to stderr in one write: `eprintln!` writes its
/// pieces one by one (stderr is unbuffered), and `mpirun` interleaves
/// the ranks' pieces into each other's lines.
fn rank_line(text: &str) {
    use std::io::Write;
    let _ = std::io::stderr().lock().write_all(format!("{text}\n").as_bytes());
}

/// `kairo bench --only allreduce`: every rank of an `mpirun` job (or one
/// process, which measures the readback and upload alone) times the
/// gradient all-reduce; rank 0 prints.
pub fn bench_allreduce(only: &[String], reps: usize) -> Result<()> {
    if only.len() > 1 {
        return Err(kairo::Error::InvalidArgument("bench: --only allreduce runs alone (start it with mpirun -np N)".into()));
    }
    #[cfg(feature = "mpi")]
    let ranks = start(true)?;
    #[cfg(not(feature = "mpi"))]
    let ranks: Option<Ranks> = {
        println!("(this kairo has no MPI: one process, the all-reduce is the identity; build with --features mpi)");
        None
    };
    let comm: Arc<dyn Comm> = Ranks::comm(ranks.as_ref()).unwrap_or_else(|| Arc::new(kairo::dist::SingleProcess));
    let quiet = Ranks::quiet(ranks.as_ref());
    let ctx = context(ranks.as_ref())?;
    if !quiet {
        println!("adapter: {} (every rank: {})", ctx.describe(), comm.describe());
        println!("all-reduce of f32 gradients, sum over {} rank(s), median of {} (wall time, rank 0):", comm.size(), reps.max(1));
    }
    let result = kairo::dist::bench::bench_allreduce(&ctx, comm.clone(), reps, |f| {
        if !quiet && f.ranks == 1 {
            println!("allreduce {:>4} MB: readback+upload ({} bucket(s)) {:>8.2} ms ({:.2} GB/s); no peers to sum with", f.megabytes, f.buckets, f.device_seconds * 1e3, f.device_gbps());
        } else if !quiet {
            println!(
                "allreduce {:>4} MB: host {:>8.2} ms ({:.3} ms/MB, {:.2} GB/s, bus {:.2} GB/s); with readback+upload ({} bucket(s)) {:>8.2} ms ({:.2} GB/s), buckets in turn {:>8.2} ms",
                f.megabytes,
                f.host_seconds * 1e3,
                f.host_ms_per_mb(),
                f.host_gbps(),
                f.bus_gbps(),
                f.buckets,
                f.device_seconds * 1e3,
                f.device_gbps(),
                f.in_turn_seconds * 1e3
            );
        }
    });
    drop(comm);
    finish(ranks, result.map(drop))
}
