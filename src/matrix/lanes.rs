//! `dst_o[i] = f(src_0[i], …, src_{I−1}[i])_o` over a few long runs of values: the one
//! operation of the Winograd transforms (`nn::winograd`), where every step applies a small
//! fixed linear map (Bᵀ, A or Aᵀ in one dimension) to every position of a row of tiles at once.
//!
//! Applying the whole map per position reads each source once and writes each output once. The
//! transforms were first a pass per output row (`dst = Σ cₖ·srcₖ`), which read a source
//! again for every row that uses it, and multiplied by the matrix's ±1 and 0 entries too.

use super::Float;

/// Positions done together: 8 values of each source are loaded into registers, `f` is applied
/// to each of the 8, and the outputs stored 8 at a time, which LLVM turns into one 256-bit
/// vector per source (f32) where the CPU has AVX2.
pub const LANES: usize = 8;

/// `dst[o][i] = f([src[0][i], …, src[I − 1][i]])[o]` for every `i < dst[o].len()`; the
/// `dst` runs have one length and every `src` run is at least as long. Compiled for AVX2 where
/// the CPU has it (256-bit instead of the baseline's 128-bit vectors), with the same bits either
/// way: only the width of the loop changes, `f` is the same arithmetic.
pub fn map_lanes<T: Float, const I: usize, const O: usize>(
    dst: [&mut [T]; O],
    src: [&[T]; I],
    f: impl Fn([T; I]) -> [T; O],
) {
    #[cfg(target_arch = "x86_64")]
    if let Some(token) = super::gemm::dispatch::avx2_fma() {
        super::gemm::kernel::avx2::map_lanes(token, dst, src, f);
        return;
    }
    portable(dst, src, f);
}

/// [`map_lanes`]'s loop: whole groups of [`LANES`] through fixed-size arrays (no aliasing
/// between the runs for LLVM to guard against, so it vectorises), then the rest one by one.
#[inline(always)]
pub fn portable<T: Float, const I: usize, const O: usize>(
    dst: [&mut [T]; O],
    src: [&[T]; I],
    f: impl Fn([T; I]) -> [T; O],
) {
    let len = dst.first().map_or(0, |d| d.len());
    assert!(
        dst.iter().all(|d| d.len() == len),
        "map_lanes: outputs of different lengths"
    );
    let src: [&[T]; I] = std::array::from_fn(|k| &src[k][..len]);
    let whole = len - len % LANES;
    let mut dst = dst;
    for i in (0..whole).step_by(LANES) {
        let x: [[T; LANES]; I] = std::array::from_fn(|k| {
            let mut group = [T::ZERO; LANES];
            group.copy_from_slice(&src[k][i..i + LANES]);
            group
        });
        let mut y = [[T::ZERO; LANES]; O];
        for l in 0..LANES {
            let out = f(std::array::from_fn(|k| x[k][l]));
            for (group, value) in y.iter_mut().zip(out) {
                group[l] = value;
            }
        }
        for (d, group) in dst.iter_mut().zip(&y) {
            d[i..i + LANES].copy_from_slice(group);
        }
    }
    for i in whole..len {
        let out = f(std::array::from_fn(|k| src[k][i]));
        for (d, value) in dst.iter_mut().zip(out) {
            d[i] = value;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A map with every kind of step the transforms use: sums, differences, scalings.
    fn mix(x: [f64; 3]) -> [f64; 2] {
        [x[0] + 4.0 * x[1] - x[2], (x[2] - x[0]) * 0.5]
    }

    #[test]
    fn every_position_is_the_map_of_its_sources_on_both_paths() {
        let src: Vec<Vec<f64>> = (0..3)
            .map(|k| {
                (0..41)
                    .map(|i| ((i * 7 + k * 3) % 11) as f64 - 5.0 + 0.1 * k as f64)
                    .collect()
            })
            .collect();
        // Lengths around whole groups of LANES, and sources longer than the outputs.
        for len in [0, 1, 7, 8, 9, 16, 37] {
            let (mut a, mut b) = (vec![f64::NAN; 2 * len], vec![f64::NAN; 2 * len]);
            let (a0, a1) = a.split_at_mut(len);
            map_lanes([a0, a1], [&src[0][..], &src[1][..], &src[2][..]], mix);
            let (b0, b1) = b.split_at_mut(len);
            portable([b0, b1], [&src[0][..], &src[1][..], &src[2][..]], mix);
            for i in 0..len {
                let want = mix([src[0][i], src[1][i], src[2][i]]);
                assert_eq!([a[i], a[len + i]], want, "[{i}] of {len}");
                assert_eq!(a[i].to_bits(), b[i].to_bits());
                assert_eq!(a[len + i].to_bits(), b[len + i].to_bits());
            }
        }
    }

    #[test]
    #[should_panic(expected = "outputs of different lengths")]
    fn outputs_of_different_lengths_are_refused() {
        let (mut a, mut b) = (vec![0.0f32; 4], vec![0.0f32; 5]);
        map_lanes([&mut a[..], &mut b[..]], [&[1.0f32; 5][..]], |[x]| [x, x]);
    }
}
