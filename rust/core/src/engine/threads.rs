//! How many threads a call uses, and over what: the batch or the amplitudes.

use crate::pool;
use crate::state::PAR_MIN_AMPS;

/// Below this many amplitude-gate updates in a whole call, stay on one thread.
/// Waking the pool costs tens of microseconds on small VMs; a 16-amplitude gate costs
/// ~45 ns per sample, so 2^15 updates (~100 µs of work) is where two threads start to win:
/// the dressed circuit's forward at batch 32/64 (2^15.6 updates) went from 97/131 µs to
/// 68/87 µs on 2 threads (2-vCPU VM, medians of 1000 calls), batch ≤ 16 stays serial.
pub const SERIAL_MAX_WORK: usize = 1 << 15;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    pub batch_par: bool,
    pub amp_par: bool,
}

/// Small registers run the batch in parallel (one sample per task); large registers run
/// samples in turn with each gate parallel over amplitudes; tiny calls stay serial.
pub fn plan(batch: usize, n_qubits: usize, n_ops: usize) -> Plan {
    let dim = 1usize << n_qubits;
    let threads = pool::num_threads();
    let work = batch.saturating_mul(dim).saturating_mul(n_ops.max(1));
    if threads == 1 || work <= SERIAL_MAX_WORK {
        Plan {
            batch_par: false,
            amp_par: false,
        }
    } else if batch > 1 && (dim < PAR_MIN_AMPS || batch >= threads) {
        Plan {
            batch_par: true,
            amp_par: false,
        }
    } else {
        Plan {
            batch_par: false,
            amp_par: dim >= PAR_MIN_AMPS,
        }
    }
}
