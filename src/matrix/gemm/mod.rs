//! GEMM: `C ← α·op(A)·op(B) + β·C`, as a ladder of kernels from the textbook loop to a
//! threaded, packed, AVX2 microkernel.
//!
//! # The contract
//!
//! Every rung computes `C ← α·A·B + β·C` on strided views ([`MatRef`], [`MatMut`]); a
//! transposed operand is a view with swapped strides, never a copy. When β = 0, C is never
//! read, so NaN or garbage in an output buffer cannot leak into the result. Every rung handles
//! every shape, including empty ones; the tests hold each to the `naive` rung.
//!
//! # The ladder, in order of increasing complexity
//!
//! | rung | idea | file | measure |
//! | --- | --- | --- | --- |
//! | `naive` | i-j-p dot products; B walked down columns | [`naive`] | `scratchnet bench gemm --kernels naive` |
//! | `reordered` | i-p-j: unit-stride rows, vectorised axpy | [`reordered`] | `--kernels naive,reordered` |
//! | `blocked` | jc/pc/ic cache blocks around the axpy | [`blocked`] | `--kernels reordered,blocked` |
//! | `packed` | pack A and B into panels; portable register-tile kernel | [`packed`], [`pack`], [`kernel::portable`] | `--kernels blocked,packed` |
//! | `simd` | the same loops, AVX2+FMA 6×16 kernel (portable kernel elsewhere) | [`packed`], `kernel::avx2` | `--kernels packed,simd` |
//! | `avx512` | the same loops, AVX-512F 8×32 kernel (the `simd` kernel where the CPU lacks it) | [`packed`], `kernel::avx512` | `--kernels simd,avx512` |
//! | `direct` | the AVX-512F kernel reading A and B in place, edges masked: no packing (the `avx512` rung where the CPU lacks it) | [`direct`] | `--kernels avx512,direct` |
//! | `threaded` | row bands of C on `std::thread` workers, with the fastest kernel for the shape (AVX-512 where it pays, [`dispatch::avx512_pays`], or where its tiles fit better, [`dispatch::kernel_for`]), unpacked where [`direct::suits`] | [`threaded`] | `--kernels avx512,threaded --threads 2` |
//! | `auto` | picks by shape: `reordered` for tiny products, else `threaded` | [`dispatch`] | `--kernels auto` |
//!
//! `docs/gemm.md` walks through each rung with measured numbers.
//!
//! ```
//! use scratchnet::Matrix;
//! use scratchnet::matrix::gemm::{Gemm, Kernel};
//! let x = Matrix::from_vec(2, 3, vec![1.0_f64, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
//! let dy = Matrix::from_vec(2, 1, vec![1.0, -1.0]).unwrap();
//! // dW = Xᵀ·dY without materialising Xᵀ.
//! let mut dw = Matrix::zeros(3, 1);
//! let mut g = Gemm::new(Kernel::Auto);
//! g.run(1.0, x.t(), dy.view(), 0.0, dw.view_mut()).unwrap();
//! assert_eq!(dw.as_slice(), &[-3.0, -3.0, -3.0]);
//! ```

pub mod blocked;
pub mod direct;
pub mod dispatch;
pub mod kernel;
pub mod lines;
pub mod naive;
pub mod pack;
pub mod packed;
pub mod params;
pub mod pool;
pub mod reordered;
pub mod threaded;

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::matrix::{Float, MatMut, MatRef, shape_str};
pub use lines::Lines;

/// A rung of the GEMM ladder. The CLI name is the lowercase variant name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kernel {
    /// The textbook i-j-k triple loop: the reference every other rung is tested against.
    Naive,
    /// i-k-j: the inner loop runs along rows of B and C, unit stride, so it vectorises.
    Reordered,
    /// Cache blocking: MC × KC blocks of A against KC-row panels of B.
    Blocked,
    /// Packed panels and a portable register-tile microkernel.
    Packed,
    /// The packed loops with the AVX2+FMA 6×16 microkernel.
    Simd,
    /// The packed loops with the AVX-512F 8×32 microkernel (the `simd` one where the CPU lacks it).
    Avx512,
    /// The AVX-512 microkernel (AVX2's where the CPU lacks it) on unpacked operands, for
    /// training-sized products where packing costs more than it saves.
    Direct,
    /// Row bands across `std::thread` workers, each running the fastest single-thread rung.
    Threaded,
    /// The rung and thread count chosen by shape (see `dispatch`).
    Auto,
}

impl Kernel {
    /// Every rung in ladder order, then `auto`. Tests, `bench gemm` and the docs iterate this.
    pub const ALL: [Kernel; 9] = [
        Kernel::Naive,
        Kernel::Reordered,
        Kernel::Blocked,
        Kernel::Packed,
        Kernel::Simd,
        Kernel::Avx512,
        Kernel::Direct,
        Kernel::Threaded,
        Kernel::Auto,
    ];

    /// The CLI name: `naive`, `reordered`, `blocked`, `packed`, `simd`, `avx512`, `direct`,
    /// `threaded`, `auto`.
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Naive => "naive",
            Kernel::Reordered => "reordered",
            Kernel::Blocked => "blocked",
            Kernel::Packed => "packed",
            Kernel::Simd => "simd",
            Kernel::Avx512 => "avx512",
            Kernel::Direct => "direct",
            Kernel::Threaded => "threaded",
            Kernel::Auto => "auto",
        }
    }

    /// Whether this rung may use more than one thread.
    pub fn is_threaded(self) -> bool {
        matches!(self, Kernel::Threaded | Kernel::Auto)
    }
}

impl fmt::Display for Kernel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Kernel {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Kernel::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Kernel::ALL.iter().map(|k| k.name()).collect();
                Error::Config(format!(
                    "unknown GEMM kernel '{s}'; choose one of: {}",
                    names.join(", ")
                ))
            })
    }
}

/// Packing buffers (and, for `threaded`, the helpers' band buffers), owned by the caller and
/// reused across products, so a training step that multiplies the same shapes again allocates
/// nothing.
#[derive(Debug, Default)]
pub struct Workspace<T> {
    threads: threaded::ThreadBuffers<T>,
}

/// A GEMM context: the rung to run, the thread budget and the reusable packing workspace.
#[derive(Debug)]
pub struct Gemm<T> {
    kernel: Kernel,
    threads: usize,
    limits: threaded::Thresholds,
    workspace: Workspace<T>,
}

impl<T: Float> Gemm<T> {
    /// A context for `kernel` with the default thread count ([`dispatch::default_threads`]).
    pub fn new(kernel: Kernel) -> Self {
        Self::with_threads(kernel, dispatch::default_threads())
    }

    /// A context for `kernel` using at most `threads` threads (0 is treated as 1, more than
    /// [`dispatch::max_threads`] as that many: spawning is never left to fail).
    pub fn with_threads(kernel: Kernel, threads: usize) -> Self {
        Gemm {
            kernel,
            threads: threads.clamp(1, dispatch::max_threads()),
            limits: threaded::Thresholds::default(),
            workspace: Workspace::default(),
        }
    }

    /// This context with other thresholds for splitting a product (see
    /// [`threaded::Thresholds`]); results do not depend on them, only speed does.
    pub fn with_thresholds(self, limits: threaded::Thresholds) -> Self {
        Gemm { limits, ..self }
    }

    /// The rung this context was made for (`Auto` is not resolved here).
    pub fn kernel(&self) -> Kernel {
        self.kernel
    }

    /// The most threads a product may use.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// The rung that actually runs for an m×k×n product (`auto` resolved by shape).
    pub fn resolved_kernel(&self, m: usize, k: usize, n: usize) -> Kernel {
        match self.kernel {
            Kernel::Auto => dispatch::auto_kernel(m, k, n),
            other => other,
        }
    }

    /// The number of threads an m×k×n product runs on (1 unless the rung is `threaded` and the
    /// product is big enough to split; see [`threaded::threads_for`]).
    pub fn threads_used(&self, m: usize, k: usize, n: usize) -> usize {
        match self.resolved_kernel(m, k, n) {
            Kernel::Threaded => {
                let mr = dispatch::kernel_for::<T>(m, n).mr();
                threaded::threads_for(m, k, n, mr, self.threads, self.limits)
            }
            _ => 1,
        }
    }

    /// C ← α·A·B + β·C with this context's rung; errors if the shapes do not fit.
    pub fn run(
        &mut self,
        alpha: T,
        a: MatRef<'_, T>,
        b: MatRef<'_, T>,
        beta: T,
        c: MatMut<'_, T>,
    ) -> Result<()> {
        check_shapes(&a, &b, &c)?;
        let kernel = self.resolved_kernel(a.rows(), a.cols(), b.cols());
        match kernel {
            Kernel::Naive => naive::gemm(alpha, a, b, beta, c),
            Kernel::Reordered => reordered::gemm(alpha, a, b, beta, c),
            Kernel::Blocked => {
                let uk = T::portable_kernel();
                blocked::gemm(&T::block_params(uk.mr(), uk.nr()), alpha, a, b, beta, c)
            }
            Kernel::Packed | Kernel::Simd | Kernel::Avx512 | Kernel::Direct => {
                // The same loops; only the microkernel differs, and whether `direct` reads
                // the operands in place.
                let uk = match kernel {
                    Kernel::Packed => T::portable_kernel(),
                    Kernel::Simd => dispatch::simd_kernel::<T>(),
                    _ => dispatch::avx512_kernel::<T>(),
                };
                let params = T::block_params(uk.mr(), uk.nr());
                let ws = &mut self.workspace.threads.main;
                if kernel == Kernel::Direct {
                    direct::gemm(&uk, &params, alpha, a, b, beta, c, ws);
                } else {
                    packed::gemm(&uk, &params, alpha, a, b, beta, c, ws);
                }
            }
            Kernel::Threaded => {
                let (m, k, n) = (a.rows(), a.cols(), b.cols());
                let mut uk = dispatch::kernel_for::<T>(m, n);
                if dispatch::picks_by_shape() {
                    // Where the two kernels run at one FMA rate (Zen 4), a product for one
                    // thread that the direct rung suits runs there, with the AVX-512 kernel's
                    // masked edges and no packing, whatever the coverage of whole tiles says
                    // (see `dispatch::kernel_for`).
                    let wide = dispatch::avx512_kernel::<T>();
                    let wide_params = T::block_params(wide.mr(), wide.nr());
                    if k >= dispatch::DIRECT_WIDE_MIN_K
                        && threaded::threads_for(m, k, n, wide.mr(), self.threads, self.limits) == 1
                        && direct::suits(&wide, &wide_params, &a, &b, &c)
                    {
                        uk = wide;
                    }
                }
                let params = T::block_params(uk.mr(), uk.nr());
                let bufs = &mut self.workspace.threads;
                let limits = self.limits;
                threaded::gemm(
                    &uk,
                    &params,
                    self.threads,
                    alpha,
                    a,
                    b,
                    beta,
                    c,
                    bufs,
                    limits,
                );
            }
            Kernel::Auto => unreachable!("auto resolved above"),
        }
        Ok(())
    }
}

impl<T: Float> Gemm<T> {
    /// C ← α·A·B + β·C for a B given as [`Lines`] of one buffer (a convolution's im2col matrix
    /// without the im2col copy). It runs the packed loops on this thread with the
    /// microkernel [`dispatch::kernel_for`] picks, which is what `auto` runs for every product that is not tiny and fits on
    /// one thread, so the bits are those of [`Gemm::run`] on the stored matrix in that case.
    pub fn run_lines(
        &mut self,
        alpha: T,
        a: MatRef<'_, T>,
        b: &Lines<'_, T>,
        beta: T,
        c: MatMut<'_, T>,
    ) -> Result<()> {
        let (k, n) = b.shape();
        if a.cols() != k || c.shape() != (a.rows(), n) {
            return Err(Error::shape(
                "gemm (A·B of lines)",
                format!("A m×{k} and C m×{n}"),
                format!("A {} and C {}", shape_str(a.shape()), shape_str(c.shape())),
            ));
        }
        let uk = dispatch::kernel_for::<T>(a.rows(), n);
        let params = T::block_params(uk.mr(), uk.nr());
        packed::gemm_lines(
            &uk,
            &params,
            alpha,
            a,
            b,
            beta,
            c,
            &mut self.workspace.threads.main,
        );
        Ok(())
    }
}

/// One-off C ← α·A·B + β·C with `kernel` and the default thread count. Allocates its packing
/// buffers; keep a [`Gemm`] instead when multiplying repeatedly.
pub fn gemm<T: Float>(
    kernel: Kernel,
    alpha: T,
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
    beta: T,
    c: MatMut<'_, T>,
) -> Result<()> {
    Gemm::new(kernel).run(alpha, a, b, beta, c)
}

fn check_shapes<T: Float>(a: &MatRef<'_, T>, b: &MatRef<'_, T>, c: &MatMut<'_, T>) -> Result<()> {
    if a.cols() != b.rows() {
        return Err(Error::shape(
            "gemm (inner dimensions of A·B)",
            format!(
                "B with {} rows to match A {}",
                a.cols(),
                shape_str(a.shape())
            ),
            format!("B {}", shape_str(b.shape())),
        ));
    }
    if c.shape() != (a.rows(), b.cols()) {
        return Err(Error::shape(
            "gemm (output C)",
            shape_str((a.rows(), b.cols())),
            shape_str(c.shape()),
        ));
    }
    Ok(())
}
