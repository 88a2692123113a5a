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

/// Generates the tile functions of one precision for a SIMD kernel module (`avx2`, `avx512`):
/// the module supplies `MR`, `K_UNROLL`, the target features, the lanes per vector and the
/// intrinsics; only those differ between instruction sets.
///
/// The body is generic over `V`, the vectors per row of the tile: `V = 2` is the full
/// MR × 2·lanes tile, `V = 1` the half-width tile for the last, narrow panel of C (n = 50 ends
/// in a 2-column panel: computing 8 columns instead of 16 halves the wasted FMAs). Both read B
/// with the full panel's row stride, so packing does not change, and both sum every element
/// in the same order (one FMA per step p, p ascending), so results depend neither on which
/// width ran nor on which instruction set: the same FMAs in the same order give the same bits.
///
/// Expanded inside a module allowed `unsafe_code`; the safety argument rests on that module's
/// detection token, which its kernel constructors require.
macro_rules! simd_tiles {
    (
        $tile:ident, $inner:ident, $t:ty, $lanes:expr, $features:literal,
        $zero:ident, $load:ident, $store:ident, $fma:ident, $mul:ident, $add:ident, $set1:ident
    ) => {
        /// The MR × V·lanes tile (`V = 2` full, `V = 1` half width), checked, then run.
        #[allow(clippy::too_many_arguments)]
        fn $tile<const V: usize>(
            k: usize,
            alpha: $t,
            a: &[$t],
            b: &[$t],
            beta: $t,
            c: &mut [$t],
            rs_c: usize,
            cs_c: usize,
        ) {
            check_tile(MR, V * $lanes, 2 * $lanes, k, a, b, c, rs_c, cs_c);
            // SAFETY: this function is private to its kernel module and its only uses are the
            // MicroKernels built by that module's constructors, which require its detection
            // token, so the target features it names are present. `check_tile` proved a holds
            // MR·k values, b holds 2·lanes·k values (B rows are 2·lanes apart for either
            // width), and every tile element (i·rs_c + j·cs_c, i < MR, j < V·lanes) is in c.
            unsafe {
                $inner::<V>(
                    k,
                    alpha,
                    a.as_ptr(),
                    b.as_ptr(),
                    beta,
                    c.as_mut_ptr(),
                    rs_c,
                    cs_c,
                )
            }
        }

        /// # Safety
        /// The CPU must support the target features; `a` must be valid for MR·k reads, `b` for
        /// 2·lanes·k reads, and `c` for reads and writes of every tile element
        /// `c[i·rs_c + j·cs_c]`, i < MR, j < V·lanes.
        #[target_feature(enable = $features)]
        #[allow(clippy::too_many_arguments)]
        unsafe fn $inner<const V: usize>(
            k: usize,
            alpha: $t,
            a: *const $t,
            b: *const $t,
            beta: $t,
            c: *mut $t,
            rs_c: usize,
            cs_c: usize,
        ) {
            // B's row stride: the packed panel is always full width.
            const NR: usize = 2 * $lanes;
            if cs_c == 1 {
                // Ask for C's tile now so it is in L1 when the k loop ends.
                for i in 0..MR {
                    // SAFETY: a prefetch is only a hint; both addresses are tile elements.
                    unsafe {
                        _mm_prefetch::<_MM_HINT_T0>(c.add(i * rs_c) as *const i8);
                        _mm_prefetch::<_MM_HINT_T0>(c.add(i * rs_c + V * $lanes - 1) as *const i8);
                    }
                }
            }
            let mut acc = [[$zero(); V]; MR];
            let (mut ap, mut bp) = (a, b);
            // One rank-1 update: V loads of B, MR broadcasts of A, V·MR FMAs.
            macro_rules! step {
                ($u:expr) => {{
                    let mut bv = [$zero(); V];
                    for (h, v) in bv.iter_mut().enumerate() {
                        // SAFETY: step p = done + u < k, so B row p (NR values from
                        // bp + u·NR) is inside the packed B panel; h·lanes + lanes ≤ NR.
                        *v = unsafe { $load(bp.add($u * NR + h * $lanes)) };
                    }
                    for (i, row) in acc.iter_mut().enumerate() {
                        // SAFETY: A column p (MR values) is inside the packed A panel; i < MR.
                        let ai = $set1(unsafe { *ap.add($u * MR + i) });
                        for (x, &bh) in row.iter_mut().zip(&bv) {
                            *x = $fma(ai, bh, *x);
                        }
                    }
                }};
            }
            let mut done = 0;
            while done + K_UNROLL <= k {
                step!(0);
                step!(1);
                step!(2);
                step!(3);
                // SAFETY: advances by K_UNROLL steps that were all in bounds.
                unsafe {
                    ap = ap.add(K_UNROLL * MR);
                    bp = bp.add(K_UNROLL * NR);
                }
                done += K_UNROLL;
            }
            while done < k {
                step!(0);
                // SAFETY: advances past one in-bounds step.
                unsafe {
                    ap = ap.add(MR);
                    bp = bp.add(NR);
                }
                done += 1;
            }

            // Write back: c = α·acc + β·c, a multiply then an add (see the contract).
            let alpha_v = $set1(alpha);
            let beta_v = $set1(beta);
            if cs_c == 1 {
                for (i, row_acc) in acc.iter().enumerate() {
                    for (h, &v) in row_acc.iter().enumerate() {
                        // SAFETY: with cs_c = 1 the lanes h·lanes .. (h+1)·lanes of row i are
                        // consecutive tile elements, all inside c.
                        unsafe {
                            let ptr = c.add(i * rs_c + h * $lanes);
                            let t = $mul(alpha_v, v);
                            let out = if beta == 0.0 {
                                t
                            } else {
                                $add(t, $mul(beta_v, $load(ptr)))
                            };
                            $store(ptr, out);
                        }
                    }
                }
            } else {
                let mut tile = [0.0 as $t; MR * NR];
                for (i, row_acc) in acc.iter().enumerate() {
                    for (h, &v) in row_acc.iter().enumerate() {
                        // SAFETY: tile has MR·NR elements; i·NR + h·lanes + lanes ≤ MR·NR.
                        unsafe {
                            $store(tile.as_mut_ptr().add(i * NR + h * $lanes), $mul(alpha_v, v))
                        };
                    }
                }
                for i in 0..MR {
                    for j in 0..V * $lanes {
                        // SAFETY: (i, j) is a tile element, inside c by the caller's contract.
                        unsafe {
                            let ptr = c.add(i * rs_c + j * cs_c);
                            let t = tile[i * NR + j];
                            *ptr = if beta == 0.0 { t } else { t + beta * *ptr };
                        }
                    }
                }
            }
        }
    };
}

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

/// One tile of C computed from A and B where they lie, unpacked (the `direct` rung):
///
/// ```text
///   C[0..mt, 0..nt] ← α · A[0..mt, 0..k] · B[0..k, 0..nt] + β · C[0..mt, 0..nt]   (β = 0: C unread)
///
///   a(i, p) = a[i·rs_a + p·cs_a]    any strides: a row-major A or a transposed one
///   b(p, j) = b[p·rs_b + j]         B's rows contiguous (unit column stride)
///   c(i, j) = c[i·rs_c + j]         C's rows contiguous
/// ```
///
/// `mt` ≤ mr and `nt` ≤ nr: an edge tile is computed in place, its missing columns masked off
/// and its missing rows never stored, so nothing outside the tile is read or written. Each
/// element is summed as the packed kernel sums it (one FMA per step p, p ascending, then
/// `α·acc`, then `+ β·c`), so a product has the same bits through either path.
pub struct DirectTile<'a, T> {
    /// The length of the dot products (the depth of the tile).
    pub k: usize,
    /// α: the product is scaled by it.
    pub alpha: T,
    /// β: C's old value is scaled by it (0 overwrites C, NaNs included).
    pub beta: T,
    /// A's rows of the tile, read through `rs_a` and `cs_a`.
    pub a: &'a [T],
    /// A's row stride.
    pub rs_a: usize,
    /// A's column stride (1 for row-major A, its row length for a transposed one).
    pub cs_a: usize,
    /// Rows of the tile (≤ mr).
    pub mt: usize,
    /// B's columns of the tile, rows `rs_b` apart.
    pub b: &'a [T],
    /// B's row stride.
    pub rs_b: usize,
    /// Columns of the tile (≤ nr).
    pub nt: usize,
    /// C's tile, written in place.
    pub c: &'a mut [T],
    /// C's row stride.
    pub rs_c: usize,
}

/// How a direct tile addresses A: a row-major A (a pointer per row), a whole tile of a
/// column-major (transposed) A (a pointer per step, the rows at fixed offsets), or any strides.
/// The SIMD modules' direct tiles take it as a const parameter.
pub(super) const ROW_MAJOR: u8 = 0;
pub(super) const COLUMNS: u8 = 1;
pub(super) const STRIDED: u8 = 2;

impl<T> DirectTile<'_, T> {
    /// Panics unless the tile fits an `mr` × `nr` register tile (1 ≤ mt ≤ mr, 1 ≤ nt ≤ nr,
    /// k ≥ 1) and its slices hold every element it addresses: a(i, p) for i < mt, p < k; B's
    /// row p up to column nt; C's row i < mt up to column nt. Returns how A is addressed
    /// ([`COLUMNS`] only for rs_a = 1 and a whole tile, mt = mr). The direct tiles' safety
    /// arguments rest on this check.
    pub(super) fn check(&self, mr: usize, nr: usize) -> u8 {
        let DirectTile {
            k,
            rs_a,
            cs_a,
            mt,
            rs_b,
            nt,
            rs_c,
            ..
        } = *self;
        assert!(
            (1..=mr).contains(&mt) && (1..=nr).contains(&nt) && k > 0,
            "direct tile: {mt}×{nt} with k = {k}"
        );
        assert!(
            self.a.len() > (mt - 1) * rs_a + (k - 1) * cs_a,
            "direct tile: A too short"
        );
        assert!(
            self.b.len() >= (k - 1) * rs_b + nt,
            "direct tile: B too short"
        );
        assert!(
            self.c.len() >= (mt - 1) * rs_c + nt,
            "direct tile: C too short"
        );
        if cs_a == 1 {
            ROW_MAJOR
        } else if rs_a == 1 && mt == mr {
            COLUMNS
        } else {
            STRIDED
        }
    }
}

/// The signature of a direct (unpacked) tile function; see [`DirectTile`].
pub type DirectFn<T> = fn(DirectTile<'_, T>);

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
    /// Optional tile function reading A and B unpacked ([`DirectTile`]), same mr × nr.
    direct: Option<DirectFn<T>>,
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
            direct: None,
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

    /// Adds the unpacked tile function (see the field doc).
    pub(super) fn with_direct(self, direct: DirectFn<T>) -> Self {
        MicroKernel {
            direct: Some(direct),
            ..self
        }
    }

    /// The unpacked tile function, if this kernel has one (AVX-512F's and AVX2's: their masked
    /// loads and stores compute an edge tile in place).
    pub fn direct(&self) -> Option<DirectFn<T>> {
        self.direct
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
