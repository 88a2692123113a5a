//! Cache block sizes for the packed rungs, each with the arithmetic that picks it.
//!
//! Targets (AMD Zen 3, per core): L1d 32 KiB, L2 512 KiB, L3 shared. The sizes follow BLIS's
//! reasoning (Low et al., "Analytical modeling is enough for high-performance BLIS", 2016):
//!
//! - `kc`: one B micro-panel (kc × nr) must stay in L1 while the microkernel streams A
//!   micro-panels past it, with room left for the A micro-panel (mr × kc) and C's tile.
//!   f32, 6×16 kernel, kc = 256: B panel 256·16·4 B = 16 KiB, A panel 256·6·4 B = 6 KiB,
//!   22 of 32 KiB. f64, 6×8, kc = 256: 16 KiB + 12 KiB = 28 KiB.
//! - `mc`: the packed A block (mc × kc) is reused by every B micro-panel of the jc block, so it
//!   lives in L2, about a third to a half of it so B panels streaming through do not evict it.
//!   f32: 144·256·4 B = 144 KiB; f64: 72·256·8 B = 144 KiB. Both multiples of mr = 6.
//! - `nc`: the packed B block (kc × nc) is reused by every A block, so it lives in L3.
//!   f32: 256·4080·4 B ≈ 4 MiB; f64: 256·2040·8 B ≈ 4 MiB — half an 8 MiB L3. Multiples of nr.
//!
//! The numbers were checked by measurement on this machine (see docs/gemm.md, "Block sizes").

/// Block sizes for one microkernel (`mr`×`nr`) and element type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockParams {
    pub mr: usize,
    pub nr: usize,
    pub mc: usize,
    pub kc: usize,
    pub nc: usize,
}

impl BlockParams {
    /// Rounds `x` down to a multiple of `to` (at least `to`).
    fn round(x: usize, to: usize) -> usize {
        (x / to).max(1) * to
    }

    /// Builds the sizes for an `mr`×`nr` kernel from element budgets, keeping them multiples
    /// of the register tile so only the last block of a dimension can be ragged.
    fn new(mr: usize, nr: usize, mc: usize, kc: usize, nc: usize) -> Self {
        BlockParams {
            mr,
            nr,
            mc: Self::round(mc, mr),
            kc,
            nc: Self::round(nc, nr),
        }
    }

    /// f32: kc = 256 (16 KiB B panel in L1), mc = 144 (144 KiB A block in L2), nc = 4080 (4 MiB).
    pub fn for_f32(mr: usize, nr: usize) -> Self {
        Self::new(mr, nr, 144, 256, 4080)
    }

    /// f64: kc = 256 (16 KiB B panel in L1), mc = 72 (144 KiB A block in L2), nc = 2040 (4 MiB).
    pub fn for_f64(mr: usize, nr: usize) -> Self {
        Self::new(mr, nr, 72, 256, 2040)
    }
}
