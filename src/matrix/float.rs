//! The element types a [`Matrix`](super::Matrix) may hold: `f32` for speed, `f64` for checking.
//!
//! The trait is sealed: the GEMM ladder carries a hand-written microkernel for each type, so a
//! third float type could not be multiplied at full speed and is better rejected at compile time.

use std::fmt::{Debug, Display};
use std::iter::Sum;
use std::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub, SubAssign};

use super::gemm::kernel::MicroKernel;
use super::gemm::params::BlockParams;

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// A floating-point element type: `f32` or `f64`.
pub trait Float:
    sealed::Sealed
    + Copy
    + Send
    + Sync
    + Default
    + PartialEq
    + PartialOrd
    + Debug
    + Display
    + Sum
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
    + 'static
{
    /// 0.
    const ZERO: Self;
    /// 1.
    const ONE: Self;
    /// Machine epsilon.
    const EPSILON: Self;
    /// The smallest positive normal value; below it lie the subnormals, which cost x86 cores
    /// a slow microcode assist in every operation that reads or writes one.
    const MIN_POSITIVE: Self;
    /// The name the CLI and reports use: `"f32"` or `"f64"`.
    const NAME: &'static str;

    /// The nearest value of this type to `v`.
    fn from_f64(v: f64) -> Self;
    /// This value as an f64 (exact for both types).
    fn to_f64(self) -> f64;
    /// eˣ.
    fn exp(self) -> Self;
    /// The natural logarithm.
    fn ln(self) -> Self;
    /// The square root.
    fn sqrt(self) -> Self;
    /// The hyperbolic tangent.
    fn tanh(self) -> Self;
    /// The absolute value.
    fn abs(self) -> Self;
    /// The larger of the two (the other one if either is NaN, as `f32::max`).
    fn max(self, other: Self) -> Self;
    /// The smaller of the two (the other one if either is NaN, as `f32::min`).
    fn min(self, other: Self) -> Self;
    /// Neither infinite nor NaN.
    fn is_finite(self) -> bool;
    /// Not a number.
    fn is_nan(self) -> bool;

    /// Converts from any other `Float` (through `f64`, which is exact for `f32` values).
    fn cast<U: Float>(self) -> U {
        U::from_f64(self.to_f64())
    }

    /// The portable register-blocked microkernel for this type (the `packed` rung).
    fn portable_kernel() -> MicroKernel<Self>;

    /// The AVX2+FMA microkernel; the token proves the CPU has both features.
    #[cfg(target_arch = "x86_64")]
    fn avx2_kernel(token: super::gemm::kernel::avx2::Avx2Fma) -> MicroKernel<Self>;

    /// The AVX-512F microkernel; the token proves the CPU has it.
    #[cfg(target_arch = "x86_64")]
    fn avx512_kernel(token: super::gemm::kernel::avx512::Avx512F) -> MicroKernel<Self>;

    /// Packs `rows` (each at least `k` long) as `k` groups of `rows.len()` values,
    /// `out[p·W + i] = rows[i][p]`, with SIMD transposes where the type and CPU allow; `false`
    /// if it did nothing and the caller must copy value by value.
    fn pack_rows_simd(rows: &[&[Self]], k: usize, out: &mut [Self]) -> bool;

    /// Cache block sizes for the packed rungs with a kernel of `mr`×`nr`.
    fn block_params(mr: usize, nr: usize) -> BlockParams;
}

macro_rules! impl_float {
    (
        $t:ident, $name:literal, $portable:path, $avx2:path, $avx512:path, $params:path,
        $pack_rows:path
    ) => {
        impl Float for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            const EPSILON: Self = $t::EPSILON;
            const MIN_POSITIVE: Self = $t::MIN_POSITIVE;
            const NAME: &'static str = $name;

            #[inline(always)]
            fn from_f64(v: f64) -> Self {
                v as $t
            }
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn exp(self) -> Self {
                $t::exp(self)
            }
            #[inline(always)]
            fn ln(self) -> Self {
                $t::ln(self)
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                $t::sqrt(self)
            }
            #[inline(always)]
            fn tanh(self) -> Self {
                $t::tanh(self)
            }
            #[inline(always)]
            fn abs(self) -> Self {
                $t::abs(self)
            }
            #[inline(always)]
            fn max(self, other: Self) -> Self {
                $t::max(self, other)
            }
            #[inline(always)]
            fn min(self, other: Self) -> Self {
                $t::min(self, other)
            }
            #[inline(always)]
            fn is_finite(self) -> bool {
                $t::is_finite(self)
            }
            #[inline(always)]
            fn is_nan(self) -> bool {
                $t::is_nan(self)
            }
            fn portable_kernel() -> MicroKernel<Self> {
                $portable()
            }
            #[cfg(target_arch = "x86_64")]
            fn avx2_kernel(token: super::gemm::kernel::avx2::Avx2Fma) -> MicroKernel<Self> {
                $avx2(token)
            }
            #[cfg(target_arch = "x86_64")]
            fn avx512_kernel(token: super::gemm::kernel::avx512::Avx512F) -> MicroKernel<Self> {
                $avx512(token)
            }
            fn block_params(mr: usize, nr: usize) -> BlockParams {
                $params(mr, nr)
            }
            fn pack_rows_simd(rows: &[&[Self]], k: usize, out: &mut [Self]) -> bool {
                $pack_rows(rows, k, out)
            }
        }
    };
}

impl_float!(
    f32,
    "f32",
    super::gemm::kernel::portable::kernel_f32,
    super::gemm::kernel::avx2::kernel_f32,
    super::gemm::kernel::avx512::kernel_f32,
    super::gemm::params::BlockParams::for_f32,
    super::gemm::pack::pack_rows_f32
);
impl_float!(
    f64,
    "f64",
    super::gemm::kernel::portable::kernel_f64,
    super::gemm::kernel::avx2::kernel_f64,
    super::gemm::kernel::avx512::kernel_f64,
    super::gemm::params::BlockParams::for_f64,
    super::gemm::pack::pack_rows_scalar
);
