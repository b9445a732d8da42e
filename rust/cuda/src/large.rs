//! The large-register path (kernels/large.cu): ONE statevector of up to 32 qubits in
//! global memory. `LargeProgram` is the launch plan, built once per tape and independent
//! of where it runs: consecutive ops whose targets sit below `seg_bits` (diagonal ops on
//! any bits) fuse into one shared-memory segment, one pass over the state; the others run
//! as whole-vector kernels. `LargeProgram::run` drives the plan through a [`Launcher`], so
//! the same sequence of launches runs on the host emulation (host_large.rs) and on a GPU
//! (large_device.rs).
//!
//! The adjoint keeps φ and λ only (plus `partial`, rows x blocks of doubles): λ = Σ_m g_m
//! O_m φ by one kernel, then a backward sweep writing each parameter use's block partials
//! of 2 Re ⟨λ|∂U|φ⟩ (qoxide-core's convention), summed per column by one final kernel in a
//! fixed order. The Jacobian runs one sweep per observable (the forward re-run in between).

use crate::error::{CudaError, Result};
use crate::program::{gate_nparams, kind, PauliObs, Precision, SmallProgram, OP_LEN};
use qoxide_core::Tape;

/// Largest register (bit masks in the op encoding are 32-bit).
pub const MAX_LARGE_QUBITS: usize = 32;
/// Segment tile: 2^10 amplitudes (16 KiB of complex128; φ and λ tiles in the backward
/// sweep: 32 KiB, under the 48 KiB a block gets without opting in).
pub const DEFAULT_SEG_BITS: usize = 10;
/// The largest tile a segment may use (the tile index arithmetic is 32-bit).
pub const MAX_SEG_BITS: usize = 12;

/// One step of the forward plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Ops [first, last) fused on shared-memory tiles.
    Seg { first: usize, last: usize },
    /// Op `op` over the whole vector.
    Gate { op: usize },
}

/// Launch shape: threads per block (a power of two) and the number of blocks of every
/// grid-stride launch (also the width of a `partial` row).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LaunchShape {
    pub block: u32,
    pub grid_cap: u32,
}

impl Default for LaunchShape {
    /// A GPU's: 256 threads, at most 1024 blocks (enough to fill an H200 grid-striding).
    fn default() -> Self {
        LaunchShape {
            block: 256,
            grid_cap: 1024,
        }
    }
}

/// Device (or host) addresses of a program's arrays, as the kernels read them.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProgramPtrs {
    pub ops: u64,
    pub consts: u64,
    pub mats: u64,
    pub obs_start: u64,
    pub terms: u64,
    pub coefs: u64,
    pub dcols: u64,
}

/// Addresses of one run's buffers; 0 for what is not wanted. Sizes: see each field.
#[derive(Clone, Copy, Debug, Default)]
pub struct LargeBuffers {
    /// [2^n] complex (complex128 or complex64, interleaved), written: the final state
    /// after a forward-only run; after an adjoint run it holds the un-computed state.
    pub phi: u64,
    /// [2^n] complex scratch, needed by the VJP and the Jacobian.
    pub lam: u64,
    /// [`LargeProgram::partial_len`] float64 scratch.
    pub partial: u64,
    /// [P] float64, read (may be 0 when P = 0).
    pub theta: u64,
    /// [M] float64, written: the expectation values.
    pub out: u64,
    /// [M] float64, read; with `grad` asks for the VJP.
    pub grad_out: u64,
    /// [P] float64, written: Σ_m grad_out[m] ∂⟨O_m⟩/∂θ_p.
    pub grad: u64,
    /// [M, P] float64, written: the Jacobian (not with `grad_out`).
    pub jac: u64,
}

/// The argument struct every large-register kernel takes (qx_large_args in
/// kernels/large.cu: same order, same types).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct LargeArgs {
    pub ops: u64,
    pub consts: u64,
    pub mats: u64,
    pub theta: u64,
    pub obs_start: u64,
    pub terms: u64,
    pub coefs: u64,
    pub weights: u64,
    pub dcols: u64,
    pub phi: u64,
    pub lam: u64,
    pub partial: u64,
    pub out: u64,
    pub dim: u64,
    pub seg_bits: i32,
    pub first: i32,
    pub last: i32,
    pub dagger: i32,
    pub dk: i32,
    pub row0: i32,
    pub n_rows: i32,
    pub n_out: i32,
    pub stride: i32,
    pub only: i32,
    pub m: i32,
    pub pad: i32,
}

const _: () = assert!(std::mem::size_of::<LargeArgs>() == 160);

/// Most observables one run measures (the expectation kernel's grid y).
pub const MAX_LARGE_OBS: usize = 65535;

/// Where a plan's launches go: the host emulation or a GPU stream.
pub trait Launcher {
    /// Launch entry point `kernel` (one of `nvrtc::KERNELS`) on a `grid` of `block`
    /// threads with `shared` bytes of dynamic shared memory per block.
    fn launch(
        &mut self,
        kernel: &'static str,
        grid: (u32, u32),
        block: u32,
        shared: usize,
        args: &LargeArgs,
    ) -> Result<()>;
}

/// A tape and its observables as a launch plan for one large statevector.
#[derive(Clone, Debug)]
pub struct LargeProgram {
    /// The op and observable encoding (shared with the small-register kernel).
    pub code: SmallProgram,
    pub seg_bits: usize,
    pub forward: Vec<Step>,
    /// Theta column of each derivative row, rows numbered in backward-sweep order.
    pub dcols: Vec<i32>,
    /// Derivative rows of each forward step: (first row, count), in sweep order.
    rows: Vec<(usize, usize)>,
}

fn entry(prec: Precision, base: &'static str) -> &'static str {
    macro_rules! pick {
        ($($b:literal),*) => {
            match (prec, base) {
                $((Precision::C128, $b) => concat!("qx_lg_", $b, "_c128"),
                  (Precision::C64, $b) => concat!("qx_lg_", $b, "_c64"),)*
                _ => unreachable!("no large-register kernel {base}"),
            }
        };
    }
    pick!("init", "gate", "seg", "bseg", "braket", "expval", "lambda")
}

impl LargeProgram {
    /// The plan with the default segment tile (2^10, or the whole state when smaller).
    pub fn new(tape: &Tape, observables: &[PauliObs]) -> Result<LargeProgram> {
        Self::with_seg_bits(tape, observables, DEFAULT_SEG_BITS)
    }

    /// The plan with segment tiles of 2^min(seg_bits, n) amplitudes.
    pub fn with_seg_bits(
        tape: &Tape,
        observables: &[PauliObs],
        seg_bits: usize,
    ) -> Result<LargeProgram> {
        let n = tape.n_qubits;
        if n == 0 || n > MAX_LARGE_QUBITS {
            return Err(CudaError::Unsupported(format!(
                "the CUDA large-register kernels run 1 to {MAX_LARGE_QUBITS} qubits, got {n}"
            )));
        }
        if seg_bits == 0 || seg_bits > MAX_SEG_BITS {
            return Err(CudaError::Value(format!(
                "segment tiles are 2^1 to 2^{MAX_SEG_BITS} amplitudes, got 2^{seg_bits}"
            )));
        }
        let code = SmallProgram::encode(tape, observables)?;
        let k = seg_bits.min(n) as i32;
        let op = |i: usize| &code.ops[i * OP_LEN..(i + 1) * OP_LEN];
        // whether op i runs on a tile: its targets below k; diagonal ops anywhere
        let local = |o: &[i32]| match o[0] {
            kind::MAT1 | kind::FLIP => o[2] < k,
            kind::SWAP | kind::MAT2 => o[2] < k && o[3] < k,
            _ => true,
        };
        let mut forward: Vec<Step> = Vec::new();
        for i in 0..code.n_ops {
            match forward.last_mut() {
                Some(Step::Seg { last, .. }) if local(op(i)) => *last = i + 1,
                _ if local(op(i)) => forward.push(Step::Seg {
                    first: i,
                    last: i + 1,
                }),
                _ => forward.push(Step::Gate { op: i }),
            }
        }
        // derivative rows in backward order: steps from the end, ops from the end
        let mut dcols = Vec::new();
        let mut rows = vec![(0, 0); forward.len()];
        for (s, step) in forward.iter().enumerate().rev() {
            let row0 = dcols.len();
            let (first, last) = match *step {
                Step::Seg { first, last } => (first, last),
                Step::Gate { op } => (op, op + 1),
            };
            for i in (first..last).rev() {
                let o = op(i);
                dcols.extend(o[8..8 + gate_nparams(o[1])].iter().filter(|&&c| c >= 0));
            }
            rows[s] = (row0, dcols.len() - row0);
        }
        Ok(LargeProgram {
            code,
            seg_bits: k as usize,
            forward,
            dcols,
            rows,
        })
    }

    pub fn n_qubits(&self) -> usize {
        self.code.n_qubits
    }
    pub fn n_params(&self) -> usize {
        self.code.n_params
    }
    pub fn n_obs(&self) -> usize {
        self.code.n_obs
    }

    /// Blocks of every grid-stride launch (the width of a `partial` row).
    pub fn grid(&self, shape: LaunchShape) -> u32 {
        let per_block = (1u64 << self.n_qubits()).div_ceil(shape.block.max(1) as u64);
        per_block.clamp(1, shape.grid_cap.max(1) as u64) as u32
    }

    /// float64 values of the `partial` scratch: one row per observable or derivative.
    pub fn partial_len(&self, shape: LaunchShape) -> usize {
        self.n_obs().max(self.dcols.len()).max(1) * self.grid(shape) as usize
    }

    /// Dynamic shared memory of the largest launch: the backward segment's φ and λ tiles
    /// and a block reduction.
    pub fn max_shared_bytes(&self, prec: Precision, block: u32) -> usize {
        2 * (prec.complex_bytes() << self.seg_bits) + 8 * block as usize
    }

    /// Bytes of one statevector.
    pub fn state_bytes(&self, prec: Precision) -> u128 {
        (1u128 << self.n_qubits()) * prec.complex_bytes() as u128
    }

    /// Device bytes a run needs: φ (+ λ for the adjoint) and the partial scratch.
    pub fn device_bytes(&self, prec: Precision, adjoint: bool, shape: LaunchShape) -> u128 {
        self.state_bytes(prec) * if adjoint { 2 } else { 1 } + 8 * self.partial_len(shape) as u128
    }

    /// Run the plan: φ = U|0⟩ and ⟨O_m⟩ (when `out` is set), then the VJP (`grad_out`
    /// and `grad`) or the Jacobian (`jac`). Launches are queued in order on `l`.
    pub fn run<L: Launcher>(
        &self,
        l: &mut L,
        prec: Precision,
        shape: LaunchShape,
        prog: &ProgramPtrs,
        buf: &LargeBuffers,
    ) -> Result<()> {
        let (p, m) = (self.n_params(), self.n_obs());
        if !shape.block.is_power_of_two() || shape.block > 1024 || shape.grid_cap == 0 {
            return Err(CudaError::Value(format!(
                "blocks are powers of two up to 1024 threads and grids non-empty, got {shape:?}"
            )));
        }
        if buf.grad_out != 0 && buf.jac != 0 {
            return Err(CudaError::Value(
                "a run computes the VJP or the Jacobian, not both".into(),
            ));
        }
        if (buf.grad_out != 0) != (buf.grad != 0) {
            return Err(CudaError::Value(
                "the VJP needs both grad_out and grad".into(),
            ));
        }
        if m > MAX_LARGE_OBS {
            return Err(CudaError::Unsupported(format!(
                "the CUDA large-register kernels measure at most {MAX_LARGE_OBS} observables \
                 per run, got {m}"
            )));
        }
        let adjoint = buf.grad != 0 || buf.jac != 0;
        let missing = [
            (buf.phi == 0, "phi"),
            (buf.partial == 0, "partial"),
            (buf.theta == 0 && p > 0, "theta"),
            (buf.lam == 0 && adjoint, "lam (the adjoint's second vector)"),
        ];
        if let Some((_, what)) = missing.iter().find(|x| x.0) {
            return Err(CudaError::Value(format!("the run needs the buffer {what}")));
        }
        let g = self.grid(shape);
        let base = LargeArgs {
            ops: prog.ops,
            consts: prog.consts,
            mats: prog.mats,
            theta: buf.theta,
            obs_start: prog.obs_start,
            terms: prog.terms,
            coefs: prog.coefs,
            phi: buf.phi,
            lam: buf.lam,
            partial: buf.partial,
            dim: 1u64 << self.n_qubits(),
            seg_bits: self.seg_bits as i32,
            stride: g as i32,
            m: m as i32,
            ..LargeArgs::default()
        };
        let mut r = Runner {
            l,
            prec,
            block: shape.block,
            grid: g,
            base,
        };
        r.forward(self)?;
        if buf.out != 0 && m > 0 {
            let red = r.red();
            r.go("expval", (g, m as u32), red, base)?;
            r.collect(m, None, m, buf.out)?;
        }
        if buf.grad != 0 {
            r.backward(self, buf.grad_out, 0)?;
            r.collect(self.dcols.len(), Some(prog.dcols), p, buf.grad)?;
        }
        for mo in 0..if buf.jac != 0 { m } else { 0 } {
            if mo > 0 {
                r.forward(self)?;
            }
            r.backward(self, 0, mo as i32)?;
            let jac_m = buf.jac + (8 * mo * p) as u64;
            r.collect(self.dcols.len(), Some(prog.dcols), p, jac_m)?;
        }
        Ok(())
    }
}

/// One run's launches, in order, on a launcher.
struct Runner<'a, L: Launcher> {
    l: &'a mut L,
    prec: Precision,
    block: u32,
    grid: u32,
    base: LargeArgs,
}

impl<L: Launcher> Runner<'_, L> {
    fn go(
        &mut self,
        name: &'static str,
        grid: (u32, u32),
        shared: usize,
        a: LargeArgs,
    ) -> Result<()> {
        self.l
            .launch(entry(self.prec, name), grid, self.block, shared, &a)
    }

    /// Shared bytes of a block reduction (one double per thread).
    fn red(&self) -> usize {
        8 * self.block as usize
    }

    fn tile(&self, seg_bits: usize) -> usize {
        (1usize << seg_bits) * self.prec.complex_bytes()
    }

    /// φ = U|0⟩.
    fn forward(&mut self, prog: &LargeProgram) -> Result<()> {
        let (g, base) = (self.grid, self.base);
        self.go("init", (g, 1), 0, base)?;
        for step in &prog.forward {
            match *step {
                Step::Seg { first, last } => {
                    let a = LargeArgs {
                        first: first as i32,
                        last: last as i32,
                        ..base
                    };
                    self.go("seg", (g, 1), self.tile(prog.seg_bits), a)?
                }
                Step::Gate { op } => {
                    let a = LargeArgs {
                        first: op as i32,
                        ..base
                    };
                    self.go("gate", (g, 1), 0, a)?
                }
            }
        }
        Ok(())
    }

    /// λ = Σ_m w_m O_m φ (w = the [M] array at `weights`, or e_only when it is 0), then
    /// the backward sweep writing every derivative row of `partial`.
    fn backward(&mut self, prog: &LargeProgram, weights: u64, only: i32) -> Result<()> {
        let (g, base) = (self.grid, self.base);
        let lambda = LargeArgs {
            weights,
            only,
            ..base
        };
        self.go("lambda", (g, 1), 0, lambda)?;
        let seg_shared = prog.max_shared_bytes(self.prec, self.block);
        for (s, step) in prog.forward.iter().enumerate().rev() {
            let (row0, n_rows) = prog.rows[s];
            match *step {
                Step::Seg { first, last } => {
                    let a = LargeArgs {
                        first: first as i32,
                        last: last as i32,
                        row0: row0 as i32,
                        n_rows: n_rows as i32,
                        ..base
                    };
                    self.go("bseg", (g, 1), seg_shared, a)?;
                }
                Step::Gate { op } => {
                    let at = LargeArgs {
                        first: op as i32,
                        dagger: 1,
                        ..base
                    };
                    self.go("gate", (g, 1), 0, at)?;
                    let o = &prog.code.ops[op * OP_LEN..(op + 1) * OP_LEN];
                    let mut row = row0;
                    for (j, &col) in o[8..8 + gate_nparams(o[1])].iter().enumerate() {
                        if col < 0 {
                            continue;
                        }
                        let a = LargeArgs {
                            first: op as i32,
                            dk: j as i32,
                            row0: row as i32,
                            ..base
                        };
                        self.go("braket", (g, 1), self.red(), a)?;
                        row += 1;
                    }
                    let al = LargeArgs {
                        phi: base.lam,
                        ..at
                    };
                    self.go("gate", (g, 1), 0, al)?;
                }
            }
        }
        Ok(())
    }

    /// out[o] = Σ of the `n_rows` partial rows mapped to o (by the [n_rows] array at
    /// `dcols`, or row o itself), o < n_out.
    fn collect(&mut self, n_rows: usize, dcols: Option<u64>, n_out: usize, out: u64) -> Result<()> {
        if n_out == 0 {
            return Ok(());
        }
        let a = LargeArgs {
            dcols: dcols.unwrap_or(0),
            n_rows: n_rows as i32,
            n_out: n_out as i32,
            out,
            ..self.base
        };
        let red = self.red();
        self.l
            .launch("qx_lg_collect", (n_out as u32, 1), self.block, red, &a)
    }
}
