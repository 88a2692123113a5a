//! Microkernels: the innermost computation of the packed rungs.
//!
//! # Contract
//!
//! A microkernel computes one `mr`×`nr` tile of C from one packed micro-panel of A and one of B:
//!
//! ```text
//!   C[0..mr, 0..nr] ← α · Ã · B̃ + β · C[0..mr, 0..nr]        (β = 0: C is not read)
//!
//!   Ã: mr × k, packed column by column     B̃: k × nr, packed row by row
//!
//!   a_pack (mr = 6):                        b_pack (nr = 16):
//!   p=0  [a00 a10 a20 a30 a40 a50]          p=0  [b00 b01 b02 ... b0,15]
//!   p=1  [a01 a11 a21 a31 a41 a51]          p=1  [b10 b11 b12 ... b1,15]
//!   ...   (mr consecutive values per p)     ...   (nr consecutive values per p)
//! ```
//!
//! So for each step p the kernel reads mr values of A and nr values of B, both contiguous, and
//! performs an outer-product update of its mr×nr accumulators — `mr·nr` fused multiply-adds for
//! `mr + nr` loads. The accumulators stay in registers for the whole k loop; C is touched once
//! at the end: `c = α·acc + β·c`, computed as a multiply then an add (not fused) by every kernel
//! and by the driver's edge path, so a tile's result does not depend on where it sits.
//!
//! `c` starts at the tile's (0, 0) element, with row stride `rs_c` and column stride `cs_c`.
//! Edge tiles (fewer than mr rows or nr columns left) are handled by the caller, which passes a
//! temporary full tile; a kernel always computes the whole mr×nr tile.

pub mod portable;

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
pub mod avx2;

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
pub mod avx512;

use crate::matrix::Float;

/// The signature every microkernel implements; see the module doc for the contract.
pub type KernelFn<T> =
    fn(k: usize, alpha: T, a: &[T], b: &[T], beta: T, c: &mut [T], rs_c: usize, cs_c: usize);

/// A microkernel and its register tile.
#[derive(Clone, Copy)]
pub struct MicroKernel<T> {
    name: &'static str,
    mr: usize,
    nr: usize,
    func: KernelFn<T>,
    /// Optional mr × nr/2 variant for the last, narrow panel of C: same packed layout (B rows
    /// nr apart), half the FMAs.
    half: Option<KernelFn<T>>,
}

impl<T> std::fmt::Debug for MicroKernel<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}×{}", self.name, self.mr, self.nr)
    }
}

impl<T: Float> MicroKernel<T> {
    /// Only kernel modules build these: for SIMD kernels, holding one proves the CPU supports it.
    pub(super) fn new(name: &'static str, mr: usize, nr: usize, func: KernelFn<T>) -> Self {
        MicroKernel {
            name,
            mr,
            nr,
            func,
            half: None,
        }
    }

    /// Adds the half-width variant (see the field doc).
    pub(super) fn with_half(self, half: KernelFn<T>) -> Self {
        MicroKernel {
            half: Some(half),
            ..self
        }
    }

    /// The half-width variant, if this kernel has one: it computes an mr × nr/2 tile.
    pub fn half(&self) -> Option<KernelFn<T>> {
        self.half
    }

    /// `"avx512f"`, `"avx2+fma"` or `"portable"`.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Rows of the register tile.
    pub fn mr(&self) -> usize {
        self.mr
    }

    /// Columns of the register tile.
    pub fn nr(&self) -> usize {
        self.nr
    }

    /// Runs the kernel on one tile (see the module doc). Panics if a slice is too short.
    #[inline]
    #[allow(clippy::too_many_arguments)]
    pub fn call(
        &self,
        k: usize,
        alpha: T,
        a: &[T],
        b: &[T],
        beta: T,
        c: &mut [T],
        rs_c: usize,
        cs_c: usize,
    ) {
        (self.func)(k, alpha, a, b, beta, c, rs_c, cs_c)
    }
}

/// Checks the slice lengths of a tile call (an mr × nr tile, B rows `b_stride` apart); every
/// kernel runs this before touching memory.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(super) fn check_tile<T>(
    mr: usize,
    nr: usize,
    b_stride: usize,
    k: usize,
    a: &[T],
    b: &[T],
    c: &[T],
    rs_c: usize,
    cs_c: usize,
) {
    assert!(a.len() >= mr * k, "microkernel: packed A panel too short");
    assert!(
        b.len() >= b_stride * k,
        "microkernel: packed B panel too short"
    );
    assert!(
        c.len() > (mr - 1) * rs_c + (nr - 1) * cs_c,
        "microkernel: C tile out of bounds"
    );
}
