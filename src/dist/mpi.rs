//! [`Comm`] on MPI (rsmpi 0.8, built against the system's Open MPI).
//!
//! MPI_COMM_WORLD keeps MPI's default error handler, MPI_ERRORS_ARE_FATAL:
//! a failed collective (a peer that died, a broken link) ends every rank
//! with MPI's message instead of returning into code that would wait in
//! the next collective; `mpirun` then reports the rank that died and ends
//! the rest. A rank that fails on its own (a kairo error) calls
//! [`Comm::abort`] (MPI_Abort) after printing it, for the same reason.

use mpi::collective::SystemOperation;
use mpi::topology::{Communicator, SimpleCommunicator};
use mpi::traits::*;

use super::Comm;
use crate::error::{Error, Result};

/// MPI_COMM_WORLD, and the MPI environment it lives in (finalised on drop).
pub struct MpiComm {
    world: SimpleCommunicator,
    local_rank: usize,
    _universe: mpi::environment::Universe,
}

impl MpiComm {
    /// Initialises MPI (once per process).
    pub fn init() -> Result<MpiComm> {
        let universe = mpi::initialize().ok_or_else(|| Error::Distributed("MPI is already initialised in this process".into()))?;
        let world = universe.world();
        // Open MPI says the rank on this machine; other MPIs: a shared-memory split.
        let local_rank = match std::env::var("OMPI_COMM_WORLD_LOCAL_RANK").ok().and_then(|v| v.parse().ok()) {
            Some(r) => r,
            None => world.split_shared(world.rank()).rank() as usize,
        };
        Ok(MpiComm { world, local_rank, _universe: universe })
    }

    /// This rank's index among the ranks on its machine.
    pub fn local_rank(&self) -> usize {
        self.local_rank
    }
}

impl Comm for MpiComm {
    fn rank(&self) -> usize {
        self.world.rank() as usize
    }

    fn size(&self) -> usize {
        self.world.size() as usize
    }

    fn all_reduce_sum(&self, data: &mut [f32]) -> Result<()> {
        if self.size() == 1 || data.is_empty() {
            return Ok(());
        }
        let send = data.to_vec();
        self.world.all_reduce_into(&send[..], data, SystemOperation::sum());
        Ok(())
    }

    /// Buffer k is summed with `MPI_Iallreduce` while buffer k + 1 is
    /// produced (read back from the device), then waited for. Open MPI
    /// progresses a non-blocking collective inside MPI calls, so how much
    /// of the sum overlaps the readback depends on the transport.
    fn all_reduce_sum_pipelined(
        &self,
        count: usize,
        produce: &mut dyn FnMut(usize) -> Result<Vec<f32>>,
        consume: &mut dyn FnMut(usize, &[f32]) -> Result<()>,
    ) -> Result<()> {
        if count == 0 {
            return Ok(());
        }
        let mut next = produce(0)?;
        for k in 0..count {
            let send = std::mem::take(&mut next);
            let mut sum = vec![0f32; send.len()];
            let mut produced = None;
            mpi::request::scope(|scope| {
                let request = self.world.immediate_all_reduce_into(scope, &send[..], &mut sum[..], SystemOperation::sum());
                if k + 1 < count {
                    produced = Some(produce(k + 1));
                }
                request.wait();
            });
            consume(k, &sum)?;
            if let Some(p) = produced {
                next = p?;
            }
        }
        Ok(())
    }

    fn broadcast(&self, data: &mut [f32]) -> Result<()> {
        if self.size() == 1 || data.is_empty() {
            return Ok(());
        }
        self.world.process_at_rank(0).broadcast_into(data);
        Ok(())
    }

    fn abort(&self, code: i32) -> ! {
        self.world.abort(code)
    }

    fn describe(&self) -> String {
        let lib = mpi::environment::library_version().unwrap_or_default();
        let lib = lib.split([',', '\0', '\n']).next().unwrap_or("MPI").trim().to_string();
        format!("rank {} of {} (local rank {}, {lib})", self.rank(), self.size(), self.local_rank)
    }
}
