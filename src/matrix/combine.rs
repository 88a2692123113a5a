//! `dst = Σ cₖ·srcₖ` over a few slices: the one operation of the Winograd transforms
//! (`nn::winograd`), where every step is a short linear combination of long runs.

use super::Float;

/// `dst = Σ_k c_k·src_k` element by element, summed in k's order, each `src_k` at least as
/// long as `dst`. Compiled for AVX2 where the CPU has it (256-bit instead of the baseline's
/// 128-bit vectors), so the same bits either way: only the width of the loop changes.
pub fn linear_combination<T: Float>(dst: &mut [T], terms: &[(T, &[T])]) {
    #[cfg(target_arch = "x86_64")]
    if let Some(token) = super::gemm::dispatch::avx2_fma() {
        super::gemm::kernel::avx2::linear_combination(token, dst, terms);
        return;
    }
    portable(dst, terms);
}

/// [`linear_combination`]'s loops: one pass over `dst` for up to four terms, one more per term
/// after that.
#[inline(always)]
pub fn portable<T: Float>(dst: &mut [T], terms: &[(T, &[T])]) {
    let len = dst.len();
    match *terms {
        [] => dst.fill(T::ZERO),
        [(a, p)] => {
            for (d, &p) in dst.iter_mut().zip(&p[..len]) {
                *d = a * p;
            }
        }
        [(a, p), (b, q)] => {
            for (d, (&p, &q)) in dst.iter_mut().zip(p[..len].iter().zip(&q[..len])) {
                *d = a * p + b * q;
            }
        }
        [(a, p), (b, q), (e, r)] => {
            let sources = p[..len].iter().zip(&q[..len]).zip(&r[..len]);
            for (d, ((&p, &q), &r)) in dst.iter_mut().zip(sources) {
                *d = a * p + b * q + e * r;
            }
        }
        [(a, p), (b, q), (e, r), (f, s), ref rest @ ..] => {
            let sources = p[..len].iter().zip(&q[..len]).zip(&r[..len]).zip(&s[..len]);
            for (d, (((&p, &q), &r), &s)) in dst.iter_mut().zip(sources) {
                *d = a * p + b * q + e * r + f * s;
            }
            for &(e, r) in rest {
                for (d, &r) in dst.iter_mut().zip(&r[..len]) {
                    *d += e * r;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_term_count_is_the_sum_in_order() {
        let src: Vec<Vec<f64>> = (0..6)
            .map(|k| {
                (0..37)
                    .map(|i| ((i * 7 + k * 3) % 11) as f64 - 5.0)
                    .collect()
            })
            .collect();
        for count in 0..=6 {
            let terms: Vec<(f64, &[f64])> = (0..count)
                .map(|k| ((k as f64) - 2.5, &src[k][..]))
                .collect();
            for len in [0, 1, 5, 8, 37] {
                let mut got = vec![f64::NAN; len];
                linear_combination(&mut got, &terms);
                let mut alone = vec![f64::NAN; len];
                portable(&mut alone, &terms);
                for i in 0..len {
                    let want: f64 = terms.iter().map(|&(c, s)| c * s[i]).sum();
                    assert_eq!(got[i], want, "{count} terms, [{i}] of {len}");
                    assert_eq!(alone[i].to_bits(), got[i].to_bits());
                }
            }
        }
    }
}
