//! Every rung of the GEMM ladder against the naive oracle: one harness, many shapes, all four
//! transpose combinations, α/β cases, strided and NaN-padded outputs, f32 and f64.

mod common;

use proptest::prelude::*;
use rand::RngExt;
use rand::rngs::StdRng;
use scratchnet::matrix::gemm::dispatch;
use scratchnet::matrix::gemm::threaded::Thresholds;
use scratchnet::matrix::gemm::{Gemm, Kernel};
use scratchnet::{Float, MatMut, MatRef, Matrix};

/// Operands for one case: A and B stored as the transpose flags say, C with a NaN border.
struct Case<T> {
    m: usize,
    k: usize,
    n: usize,
    ta: bool,
    tb: bool,
    a: Matrix<T>,
    b: Matrix<T>,
    /// Output buffer: an (m + 2) × (n + pad) grid; C is the window at (1, 1), everything else
    /// is NaN and must stay NaN.
    c_buf: Matrix<T>,
    pad: usize,
}

impl<T: Float> Case<T> {
    fn new(
        m: usize,
        k: usize,
        n: usize,
        ta: bool,
        tb: bool,
        integer: bool,
        rng: &mut StdRng,
    ) -> Self {
        let gen_m = |r, c, rng: &mut StdRng| {
            if integer {
                common::integer_matrix::<T>(r, c, rng)
            } else {
                common::uniform_matrix::<T>(r, c, rng)
            }
        };
        let a = if ta {
            gen_m(k, m, rng)
        } else {
            gen_m(m, k, rng)
        };
        let b = if tb {
            gen_m(n, k, rng)
        } else {
            gen_m(k, n, rng)
        };
        let pad = 3;
        let mut c_buf = Matrix::filled(m + 2, n + pad, T::from_f64(f64::NAN));
        for i in 0..m {
            for j in 0..n {
                c_buf.set(i + 1, j + 1, T::from_f64(rng.random_range(-2..=2) as f64));
            }
        }
        Case {
            m,
            k,
            n,
            ta,
            tb,
            a,
            b,
            c_buf,
            pad,
        }
    }

    fn a(&self) -> MatRef<'_, T> {
        if self.ta { self.a.t() } else { self.a.view() }
    }

    fn b(&self) -> MatRef<'_, T> {
        if self.tb { self.b.t() } else { self.b.view() }
    }

    /// The C window inside the NaN border of `buf`.
    fn c_view(buf: &mut Matrix<T>, m: usize, n: usize, pad: usize) -> MatMut<'_, T> {
        let rs = n + pad;
        let data = &mut buf.as_mut_slice()[rs + 1..];
        MatMut::new(data, m, n, rs, 1).unwrap()
    }

    /// Runs `kernel` on a copy of C; returns the whole buffer.
    fn run(&self, kernel: Kernel, threads: usize, alpha: T, beta: T) -> Matrix<T> {
        self.run_with(kernel, threads, Thresholds::default(), alpha, beta)
    }

    /// [`Case::run`] with other thresholds for splitting the product.
    fn run_with(
        &self,
        kernel: Kernel,
        threads: usize,
        limits: Thresholds,
        alpha: T,
        beta: T,
    ) -> Matrix<T> {
        let mut buf = self.c_buf.clone();
        if beta == T::ZERO {
            // β = 0 must ignore C entirely, NaN included.
            for i in 0..self.m {
                for j in 0..self.n {
                    buf.set(i + 1, j + 1, T::from_f64(f64::NAN));
                }
            }
        }
        let c = Self::c_view(&mut buf, self.m, self.n, self.pad);
        Gemm::with_threads(kernel, threads)
            .with_thresholds(limits)
            .run(alpha, self.a(), self.b(), beta, c)
            .unwrap();
        buf
    }

    /// Σ_p |a(i, p)|·|b(p, j)| for element (i, j): the scale of its rounding error.
    fn abs_dot(&self, i: usize, j: usize) -> f64 {
        let (a, b) = (self.a(), self.b());
        (0..self.k)
            .map(|p| (a.at(i, p).to_f64() * b.at(p, j).to_f64()).abs())
            .sum()
    }
}

/// Compares a rung's output buffer with the oracle's: border NaN untouched, interior exact for
/// integer inputs, else within the bound that floating-point summation guarantees — linear in
/// k: both results are within k·ε·(|α|·Σ|a||b| + |β·c|) of the exact value, so they differ by
/// at most twice that (plus one rounding of the write-back).
#[allow(clippy::too_many_arguments)]
fn assert_close<T: Float>(
    case: &Case<T>,
    got: &Matrix<T>,
    want: &Matrix<T>,
    exact: bool,
    alpha: T,
    beta: T,
    what: &str,
) {
    let (m, n) = (case.m, case.n);
    let eps = T::EPSILON.to_f64();
    for i in 0..m + 2 {
        for j in 0..n + case.pad {
            let (g, w) = (got.get(i, j), want.get(i, j));
            let inside = (1..=m).contains(&i) && (1..=n).contains(&j);
            if !inside {
                assert!(g.is_nan(), "{what}: wrote outside C at ({i}, {j})");
                continue;
            }
            if exact {
                assert!(g == w, "{what}: C[{},{}] = {g}, naive {w}", i - 1, j - 1);
            } else {
                let c0 = case.c_buf.get(i, j).to_f64();
                let scale =
                    alpha.to_f64().abs() * case.abs_dot(i - 1, j - 1) + (beta.to_f64() * c0).abs();
                let bound = 2.0 * (case.k as f64 + 2.0) * eps * scale + eps * w.to_f64().abs();
                let (g, w) = (g.to_f64(), w.to_f64());
                assert!(
                    (g - w).abs() <= bound,
                    "{what}: C[{},{}] = {g}, naive {w}, bound {bound:e}",
                    i - 1,
                    j - 1
                );
            }
        }
    }
}

const ALPHAS_BETAS: [(f64, f64); 5] = [(1.0, 0.0), (1.0, 1.0), (2.5, 0.0), (2.5, 2.5), (0.0, 2.5)];

/// Thresholds that make `threaded` split even the smallest product on persistent pool workers
/// (with copied operands), and ones that make it use scoped threads reading in place: both
/// paths are checked on every shape, not only on the sizes that reach them by default.
const POOL: Thresholds = Thresholds {
    min_macs_per_thread: 1,
    scoped_min_macs: usize::MAX,
};
const SCOPED: Thresholds = Thresholds {
    min_macs_per_thread: 1,
    scoped_min_macs: 0,
};

/// Runs every rung (with 1 and 3 threads where it matters, through the pool and the scoped
/// paths) against naive for one shape, on integer inputs (exact) and on uniform ones.
fn check_shape<T: Float>(m: usize, k: usize, n: usize, rng: &mut StdRng) {
    for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
        for integer in [true, false] {
            let case = Case::<T>::new(m, k, n, ta, tb, integer, rng);
            for (alpha, beta) in ALPHAS_BETAS {
                let (alpha, beta) = (T::from_f64(alpha), T::from_f64(beta));
                let want = case.run(Kernel::Naive, 1, alpha, beta);
                for kernel in Kernel::ALL.into_iter().filter(|&k| k != Kernel::Naive) {
                    // The forced paths spawn or wake threads for every product: once per case
                    // (α = β = 2.5, both terms of the contract), on the rung itself, and on
                    // integer inputs, which must then match to the bit.
                    let paths = kernel == Kernel::Threaded
                        && integer
                        && alpha == T::from_f64(2.5)
                        && beta == T::from_f64(2.5);
                    let runs: &[(usize, Thresholds, &str)] = if paths {
                        &[
                            (1, Thresholds::default(), "default"),
                            (3, Thresholds::default(), "default"),
                            (3, POOL, "pool"),
                            (3, SCOPED, "scoped"),
                        ]
                    } else if kernel.is_threaded() {
                        &[
                            (1, Thresholds::default(), "default"),
                            (3, Thresholds::default(), "default"),
                        ]
                    } else {
                        &[(1, Thresholds::default(), "default")]
                    };
                    for &(threads, limits, path) in runs {
                        let got = case.run_with(kernel, threads, limits, alpha, beta);
                        let what = format!(
                            "{kernel} ({threads} thr, {path}) {} {m}x{k}x{n} ta={ta} tb={tb} \
                             int={integer} α={alpha} β={beta}",
                            T::NAME
                        );
                        assert_close(&case, &got, &want, integer, alpha, beta, &what);
                    }
                }
            }
        }
    }
}

/// Dimensions around every boundary the packed rungs have: register tiles (4×8, 4×4, 6×16,
/// 6×8, 8×32, 8×16), block sizes (kc = 256, mc = 72/144), and primes.
const EDGE_DIMS: [usize; 17] = [0, 1, 2, 3, 5, 7, 8, 9, 13, 14, 15, 16, 17, 23, 29, 31, 33];

#[test]
fn small_shapes_all_combinations_f32() {
    let mut rng = common::rng(1);
    for &m in &EDGE_DIMS {
        for &n in &EDGE_DIMS {
            for k in [0, 1, 3, 7, 16, 17] {
                check_shape::<f32>(m, k, n, &mut rng);
            }
        }
    }
}

#[test]
fn small_shapes_all_combinations_f64() {
    let mut rng = common::rng(2);
    for &m in &EDGE_DIMS {
        for &n in &EDGE_DIMS {
            for k in [0, 1, 4, 9] {
                check_shape::<f64>(m, k, n, &mut rng);
            }
        }
    }
}

#[test]
fn block_boundaries_and_primes() {
    let mut rng = common::rng(3);
    // Each crosses kc = 256, mc = 72 / 144 or both, with ragged register tiles.
    let shapes = [
        (5, 255, 7),
        (7, 256, 17),
        (13, 257, 9),
        (73, 31, 17),
        (145, 19, 33),
        (97, 257, 41),
        (143, 97, 5),
        (1, 513, 1),
        (257, 3, 97),
        (6, 600, 16),
        (141, 257, 32),
        (71, 100, 65),
        (29, 513, 47),
    ];
    for (m, k, n) in shapes {
        check_shape::<f32>(m, k, n, &mut rng);
        check_shape::<f64>(m, k, n, &mut rng);
    }
}

#[test]
fn mlp_shapes() {
    let mut rng = common::rng(4);
    for (m, k, n) in [(100, 784, 50), (100, 50, 10), (784, 100, 10)] {
        check_shape::<f32>(m, k, n, &mut rng);
    }
}

#[test]
fn threaded_results_are_bit_identical_for_any_thread_count() {
    let mut rng = common::rng(5);
    for (m, k, n) in [(301, 517, 263), (1000, 300, 64), (64, 700, 1000)] {
        for (ta, tb) in [(false, false), (true, true)] {
            let case = Case::<f32>::new(m, k, n, ta, tb, false, &mut rng);
            let one = case.run(Kernel::Threaded, 1, 1.0, 0.5);
            let simd = case.run(Kernel::Simd, 1, 1.0, 0.5);
            assert!(
                one.as_slice()
                    .iter()
                    .zip(simd.as_slice())
                    .all(|(a, b)| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()))
            );
            for threads in [2, 3, 16] {
                let many = case.run(Kernel::Threaded, threads, 1.0, 0.5);
                let same = one
                    .as_slice()
                    .iter()
                    .zip(many.as_slice())
                    .all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(same, "{m}x{k}x{n}: {threads} threads differ from 1");
            }
        }
    }
}

#[test]
fn column_major_output_and_strided_operands() {
    // C stored column-major (a transposed view), A and B with row strides larger than their width.
    let mut rng = common::rng(6);
    let (m, k, n) = (37, 29, 41);
    let a_store = common::uniform_matrix::<f64>(m, k + 5, &mut rng);
    let b_store = common::uniform_matrix::<f64>(k, n + 3, &mut rng);
    let a = MatRef::new(a_store.as_slice(), m, k, k + 5, 1).unwrap();
    let b = MatRef::new(b_store.as_slice(), k, n, n + 3, 1).unwrap();
    let mut want = Matrix::<f64>::zeros(m, n);
    Gemm::with_threads(Kernel::Naive, 1)
        .run(1.0, a, b, 0.0, want.view_mut())
        .unwrap();
    for kernel in Kernel::ALL {
        let mut ct = Matrix::<f64>::filled(n, m, f64::NAN);
        Gemm::with_threads(kernel, 2)
            .run(1.0, a, b, 0.0, ct.view_mut().t())
            .unwrap();
        let got = ct.transpose();
        for (g, w) in got.as_slice().iter().zip(want.as_slice()) {
            assert!((g - w).abs() < 1e-12, "{kernel}: {g} vs {w}");
        }
    }
}

#[test]
fn shape_mismatches_are_errors_naming_both_shapes() {
    let a = Matrix::<f32>::zeros(2, 3);
    let b = Matrix::<f32>::zeros(4, 5);
    let mut c = Matrix::<f32>::zeros(2, 5);
    let err = Gemm::with_threads(Kernel::Auto, 1)
        .run(1.0, a.view(), b.view(), 0.0, c.view_mut())
        .unwrap_err()
        .to_string();
    assert!(err.contains("2×3") && err.contains("4×5"), "{err}");
    let b = Matrix::<f32>::zeros(3, 5);
    let mut c = Matrix::<f32>::zeros(5, 2);
    let err = Gemm::with_threads(Kernel::Simd, 1)
        .run(1.0, a.view(), b.view(), 0.0, c.view_mut())
        .unwrap_err()
        .to_string();
    assert!(err.contains("2×5") && err.contains("5×2"), "{err}");
    assert!(a.matmul(&Matrix::zeros(2, 2)).is_err());
}

#[test]
fn views_reject_overlapping_or_short_layouts() {
    let mut buf = vec![0.0_f32; 12];
    assert!(MatMut::new(&mut buf, 3, 4, 2, 1).is_err(), "rows overlap");
    assert!(MatMut::new(&mut buf, 3, 4, 4, 1).is_ok());
    assert!(MatMut::new(&mut buf, 4, 4, 4, 1).is_err(), "too short");
    assert!(
        MatRef::new(&buf, 3, 4, 0, 1).is_ok(),
        "broadcast rows are fine to read"
    );
}

/// `.ci/run` sets SCRATCHNET_REQUIRE_AVX2=1: on CI the AVX2 kernel must be the one tested,
/// so a broken detection cannot silently test only the portable path.
#[test]
fn avx2_path_is_exercised_when_required() {
    let required = std::env::var("SCRATCHNET_REQUIRE_AVX2").is_ok_and(|v| v == "1");
    if required {
        assert!(
            dispatch::has_avx2_fma(),
            "SCRATCHNET_REQUIRE_AVX2=1 but the AVX2+FMA kernel is not available"
        );
        assert_eq!(dispatch::simd_kernel::<f32>().name(), "avx2+fma");
        assert_eq!(dispatch::simd_kernel::<f64>().name(), "avx2+fma");
    }
    // Either way, `packed` runs the portable kernel: both kernels are covered by the harness.
    assert_eq!(<f32 as Float>::portable_kernel().name(), "portable");
}

/// `.ci/run` sets SCRATCHNET_REQUIRE_AVX512=1 on a CPU whose /proc/cpuinfo lists avx512f: there
/// the `avx512` rung must run the AVX-512F kernel, so a detection bug cannot skip it.
#[test]
fn avx512_path_is_exercised_when_required() {
    if std::env::var("SCRATCHNET_REQUIRE_AVX512").is_ok_and(|v| v == "1") {
        assert!(
            dispatch::has_avx512f(),
            "SCRATCHNET_REQUIRE_AVX512=1 but the AVX-512F kernel is not available"
        );
        assert_eq!(dispatch::avx512_kernel::<f32>().name(), "avx512f");
        assert_eq!(dispatch::avx512_kernel::<f64>().name(), "avx512f");
        assert!(dispatch::avx512_kernel::<f32>().direct().is_some());
        assert!(dispatch::avx512_kernel::<f64>().direct().is_some());
        assert!(dispatch::measure_avx512_gain().is_some_and(|g| g > 0.0));
    }
}

/// The AVX2 and AVX-512 kernels, packed or reading A and B in place, issue the same FMAs in
/// the same order for every element of C (and the block sizes do not depend on the tile), so
/// they agree to the bit: a network trains to the same numbers on either CPU, and whichever
/// path `auto` takes for a shape. A transposed A or B and β ≠ 0 take the direct rung's other
/// paths.
#[test]
fn simd_avx512_and_direct_agree_to_the_bit() {
    let mut rng = common::rng(9);
    // n = 100, 40 and 7 leave last panels of 4, 8 and 7 columns: the direct rung's 256-bit tile.
    let shapes = [
        (100, 784, 50),
        (37, 300, 41),
        (64, 64, 64),
        (100, 784, 100),
        (13, 100, 40),
        (29, 50, 7),
    ];
    for (m, k, n) in shapes {
        let a = common::uniform_matrix::<f32>(m, k, &mut rng);
        let at = a.transpose();
        let b = common::uniform_matrix::<f32>(k, n, &mut rng);
        let bt = b.transpose();
        let c0 = common::uniform_matrix::<f32>(m, n, &mut rng);
        let cases = [
            (false, false, 0.0),
            (true, false, 0.0),
            (false, true, 0.0),
            (false, false, 0.5),
        ];
        for (ta, tb, beta) in cases {
            let run = |kernel| {
                let mut c = c0.clone();
                let a = if ta { at.t() } else { a.view() };
                let b = if tb { bt.t() } else { b.view() };
                Gemm::with_threads(kernel, 1)
                    .run(1.5, a, b, beta, c.view_mut())
                    .unwrap();
                c
            };
            let simd = run(Kernel::Simd);
            let what = format!("{m}×{k}×{n}, Aᵀ {ta}, Bᵀ {tb}, β {beta}");
            assert_eq!(simd, run(Kernel::Avx512), "avx512, {what}");
            assert_eq!(simd, run(Kernel::Direct), "direct, {what}");
            assert_eq!(simd, run(Kernel::Auto), "auto, {what}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Random shapes, transposes, strides (row padding) and scalars, every rung vs naive.
    #[test]
    fn random_shapes_and_strides(
        m in 0usize..70, k in 0usize..300, n in 0usize..70,
        ta: bool, tb: bool, lda_pad in 0usize..4, ldb_pad in 0usize..4,
        alpha in -3.0f64..3.0, beta in prop::sample::select(vec![0.0, 1.0, -0.5]),
        seed: u64,
    ) {
        let mut rng = common::rng(seed);
        let (ar, ac) = if ta { (k, m) } else { (m, k) };
        let (br, bc) = if tb { (n, k) } else { (k, n) };
        let a_store = common::uniform_matrix::<f64>(ar, ac + lda_pad, &mut rng);
        let b_store = common::uniform_matrix::<f64>(br, bc + ldb_pad, &mut rng);
        let a = MatRef::new(a_store.as_slice(), ar, ac, ac + lda_pad, 1).unwrap();
        let b = MatRef::new(b_store.as_slice(), br, bc, bc + ldb_pad, 1).unwrap();
        let (a, b) = (if ta { a.t() } else { a }, if tb { b.t() } else { b });
        let c0 = common::uniform_matrix::<f64>(m, n, &mut rng);
        let mut want = c0.clone();
        Gemm::with_threads(Kernel::Naive, 1).run(alpha, a, b, beta, want.view_mut()).unwrap();
        for kernel in Kernel::ALL {
            let mut got = c0.clone();
            Gemm::with_threads(kernel, 2).run(alpha, a, b, beta, got.view_mut()).unwrap();
            for (g, w) in got.as_slice().iter().zip(want.as_slice()) {
                prop_assert!((g - w).abs() <= 1e-12 * (k as f64 + 1.0) * (1.0 + w.abs()),
                    "{}: {} vs {}", kernel, g, w);
            }
        }
    }
}

/// A B given as lines of one buffer (a conv layer's im2col matrix, never stored) gives the bits
/// `auto` gives on the stored matrix, and naive's values: rows and columns, edge and block
/// sizes, both precisions, α/β, with C a strided view.
fn check_lines<T: Float>(rng: &mut StdRng) {
    use scratchnet::matrix::gemm::Lines;
    for (m, k, n) in [
        (1, 1, 1),
        (1, 9, 13),
        (7, 3, 1),
        (16, 144, 810),
        (13, 17, 33),
        (6, 300, 29),
        (33, 257, 16),
        (64, 576, 80),
    ] {
        for cols in [false, true] {
            for integer in [true, false] {
                let value = |rng: &mut StdRng| {
                    let v: f64 = if integer {
                        rng.random_range(-4..=4) as f64
                    } else {
                        rng.random_range(-1.0..1.0)
                    };
                    T::from_f64(v)
                };
                let (lines, len) = if cols { (n, k) } else { (k, n) };
                let data: Vec<T> = (0..len + 3 * lines + 11).map(|_| value(rng)).collect();
                let offsets: Vec<usize> = (0..lines)
                    .map(|_| rng.random_range(0..=data.len() - len))
                    .collect();
                let b = if cols {
                    Lines::cols(&data, &offsets, len)
                } else {
                    Lines::rows(&data, &offsets, len)
                }
                .unwrap();
                let stored = b.to_matrix();
                let a = Matrix::from_fn(m, k, |_, _| value(rng));
                let c0 = Matrix::from_fn(m, n + 2, |_, _| value(rng));
                for (alpha, beta) in ALPHAS_BETAS {
                    let (alpha, beta) = (T::from_f64(alpha), T::from_f64(beta));
                    let run = |how: &dyn Fn(&mut Gemm<T>, MatMut<'_, T>)| {
                        let mut c = c0.clone();
                        let view = MatMut::new(c.as_mut_slice(), m, n, n + 2, 1).unwrap();
                        how(&mut Gemm::with_threads(Kernel::Auto, 1), view);
                        c
                    };
                    let got = run(&|g, c| g.run_lines(alpha, a.view(), &b, beta, c).unwrap());
                    let what = format!("{} {m}x{k}x{n} cols={cols} α={alpha} β={beta}", T::NAME);
                    let auto = run(&|g, c| g.run(alpha, a.view(), stored.view(), beta, c).unwrap());
                    if Gemm::<T>::with_threads(Kernel::Auto, 1).resolved_kernel(m, k, n)
                        == Kernel::Threaded
                    {
                        assert!(
                            got.as_slice()
                                .iter()
                                .zip(auto.as_slice())
                                .all(|(x, y)| x.to_f64().to_bits() == y.to_f64().to_bits()),
                            "{what}: not auto's bits"
                        );
                    }
                    let naive = run(&|_, c| {
                        Gemm::with_threads(Kernel::Naive, 1)
                            .run(alpha, a.view(), stored.view(), beta, c)
                            .unwrap()
                    });
                    for i in 0..m {
                        for j in 0..n + 2 {
                            let (g, w) = (got.get(i, j).to_f64(), naive.get(i, j).to_f64());
                            if j >= n {
                                assert_eq!(g, c0.get(i, j).to_f64(), "{what}: wrote past C");
                            } else if integer {
                                assert_eq!(g, w, "{what}: C[{i},{j}]");
                            } else {
                                let scale: f64 = (0..k)
                                    .map(|p| {
                                        (a.get(i, p).to_f64() * stored.get(p, j).to_f64()).abs()
                                    })
                                    .sum::<f64>()
                                    * alpha.to_f64().abs()
                                    + (beta.to_f64() * c0.get(i, j).to_f64()).abs();
                                let eps = T::EPSILON.to_f64();
                                let bound = 2.0 * (k as f64 + 2.0) * eps * scale + eps * w.abs();
                                assert!((g - w).abs() <= bound, "{what}: C[{i},{j}] {g} vs {w}");
                            }
                        }
                    }
                }
            }
        }
    }
    let data = vec![T::ZERO; 10];
    let b = Lines::rows(&data, &[0, 1], 4).unwrap();
    let a = Matrix::<T>::zeros(3, 3);
    let mut c = Matrix::<T>::zeros(3, 4);
    let err = Gemm::with_threads(Kernel::Auto, 1)
        .run_lines(T::ONE, a.view(), &b, T::ZERO, c.view_mut())
        .unwrap_err()
        .to_string();
    assert!(err.contains("3×3"), "{err}");
}

#[test]
fn lines_operands_match_the_stored_matrix() {
    let mut rng = common::rng(17);
    check_lines::<f32>(&mut rng);
    check_lines::<f64>(&mut rng);
}
