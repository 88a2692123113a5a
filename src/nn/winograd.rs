//! Winograd's minimal filtering F(2×2, 3×3): a 3×3 stride-1 convolution with 2.25× fewer
//! multiplications than im2col's product.
//!
//! A 3×3 filter `g` slid over a 4×4 input tile `d` gives a 2×2 output tile. im2col computes
//! it as 4 dot products of 9, 36 multiplications. Winograd (Lavin and Gray, "Fast Algorithms
//! for Convolutional Neural Networks", 2015) computes it as
//!
//! ```text
//!   Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A          16 multiplications (⊙: element by element)
//!
//!        ⎡1  0 −1  0⎤        ⎡ 1    0    0 ⎤
//!   Bᵀ = ⎢0  1  1  0⎥    G = ⎢ ½    ½    ½ ⎥    Aᵀ = ⎡1  1  1  0⎤
//!        ⎢0 −1  1  0⎥        ⎢ ½   −½    ½ ⎥         ⎣0  1 −1 −1⎦
//!        ⎣0  1  0 −1⎦        ⎣ 0    0    1 ⎦
//! ```
//!
//! In one dimension that is F(2, 3): with `m₁ = (d₀ − d₂)·g₀`, `m₂ = (d₁ + d₂)·(g₀ + g₁ + g₂)/2`,
//! `m₃ = (d₂ − d₁)·(g₀ − g₁ + g₂)/2`, `m₄ = (d₁ − d₃)·g₂`, the outputs are `y₀ = m₁ + m₂ + m₃`
//! and `y₁ = m₂ − m₃ − m₄` — expand them and they are `d₀g₀ + d₁g₁ + d₂g₂` and
//! `d₁g₀ + d₂g₁ + d₃g₂`. The 2-D version nests it along rows and columns.
//!
//! What makes it a *layer* algorithm rather than a tile trick is where the sum over input
//! channels goes. The transforms are linear, so `Σ_ci` can move inside the brackets: with
//! `U = G g Gᵀ` per (co, ci) and `V = Bᵀ d B` per (ci, tile), each of the 16 positions ξ of
//! the 4×4 transformed tile is an independent matrix product
//!
//! ```text
//!   M[ξ] (tiles × c_out)  =  V[ξ]ᵀ (tiles × c_in)  ·  U[ξ]ᵀ (c_in × c_out)      ξ = 0..16
//! ```
//!
//! and the output is `Aᵀ M A` per (tile, co). The tiles are the products' long side, m, in
//! whole 6-row tiles of the AVX2 kernel, and the channels the short one, n = c_out, in whole
//! 16-wide panels: the other way round, 16 or 32 filters are 3 or 6 row tiles with a partial
//! one, whose edge handling cost more than the arithmetic at these depths. So the layer is: transform the input tiles
//! (additions only), 16 GEMMs on our ladder of depth `c_in`, transform back (additions only).
//! The products do `16·c_out·c_in` multiply-adds per tile where im2col does `36·c_out·c_in`.
//!
//! The tiles' 4×4 windows overlap by 2 (a stride-2 walk), so `V` is 4× the input and `M` 4×
//! the output; a chunk of images at a time keeps them in L2 (see [`CHUNK_BYTES`]). The input
//! transform runs on the padded plane split by row and column parity, where each of its steps
//! is one pass over a whole quarter plane (see `Winograd::input_tiles`).
//!
//! The input gradient of a stride-1 convolution is again one (see [`super::shifted`]): the
//! output gradient padded by `2 − pad`, with the filters flipped and their channels swapped,
//! so the same code serves the forward pass and dx.
//!
//! The result is not bit for bit im2col's: the products sum over `c_in` in another
//! association, and the transforms round. Every value is within a few ulp of the direct sum
//! times its magnitude (the transforms' entries are 0, ±½ and ±1, the tile is small), which
//! the tests bound.

use crate::matrix::gemm::{Gemm, Kernel};
use crate::matrix::{Float, MatMut, MatRef};

/// The working set a chunk of images may use for `V` and `M` together: 512 KiB, a Zen 3
/// core's L2 (half of Zen 4's or 5's), so the GEMMs read `V` and write `M` near where the
/// input transform left them and the output transform finds them.
pub const CHUNK_BYTES: usize = 512 << 10;

/// The fewest GEMM columns (tiles) a chunk should give, where [`CHUNK_BYTES`] would allow
/// fewer: a product of 20 columns (one 8×8 image) spends more on packing and edges than on
/// arithmetic. Measured on 100 images of 64 → 64 channels at 8×8 (Zen 3): 7.3 ms a chunk of
/// one image, 6.0 of four, 5.8 of eight.
pub const CHUNK_MIN_COLUMNS: usize = 96;

/// One 3×3 stride-1 convolution in the Winograd domain: `c_in` planes of `h × w`, zero
/// padding `pad` (at most 2, so that its transpose needs none below 0), `c_out` outputs of
/// `oh × ow`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Winograd {
    pub c_in: usize,
    pub c_out: usize,
    h: usize,
    w: usize,
    pad: usize,
    pub oh: usize,
    pub ow: usize,
    /// Output tiles down and across: `⌈oh/2⌉`, `⌈ow/2⌉`.
    th: usize,
    tw: usize,
    /// Images per chunk (see [`CHUNK_BYTES`]).
    chunk: usize,
}

impl Winograd {
    /// The convolution of `c_out` 3×3 filters over `c_in` × `h` × `w` images with padding
    /// `pad`, or `None` where it has no output, or `pad > 2`.
    pub fn new(c_in: usize, c_out: usize, h: usize, w: usize, pad: usize) -> Option<Self> {
        if pad > 2 || c_in == 0 || c_out == 0 || h + 2 * pad < 3 || w + 2 * pad < 3 {
            return None;
        }
        let (oh, ow) = (h + 2 * pad - 2, w + 2 * pad - 2);
        let (th, tw) = (oh.div_ceil(2), ow.div_ceil(2));
        let mut wg = Winograd {
            c_in,
            c_out,
            h,
            w,
            pad,
            oh,
            ow,
            th,
            tw,
            chunk: 1,
        };
        let by_bytes = CHUNK_BYTES / (16 * (c_in + c_out) * wg.tiles() * size_of::<f32>());
        wg.chunk = by_bytes.max(CHUNK_MIN_COLUMNS.div_ceil(wg.tiles())).max(1);
        Some(wg)
    }

    /// This convolution with `images` per chunk (tests use it to cross chunk boundaries);
    /// results do not depend on it.
    pub fn with_chunk(self, images: usize) -> Self {
        Winograd {
            chunk: images.max(1),
            ..self
        }
    }

    /// Images per chunk: how many go through the products at once.
    pub fn chunk(&self) -> usize {
        self.chunk
    }

    /// GEMM columns per image: `th` rows of tiles at a pitch of `tw + 1` (see
    /// `Winograd::input_tiles`).
    fn tiles(&self) -> usize {
        self.th * (self.tw + 1)
    }

    /// `U[ξ] = (G g Gᵀ)[ξ]` for every filter, into `u` laid out `16 × c_in × c_out` (each
    /// `U[ξ]ᵀ`, the products' B operand), from `w` (`c_out × c_in·9`, PyTorch's
    /// `[out, in, 3, 3]`).
    pub fn filters<T: Float>(&self, w: &[T], u: &mut Vec<T>) {
        let (c_out, c_in) = (self.c_out, self.c_in);
        assert_eq!(w.len(), c_out * c_in * 9, "Winograd: filter shape");
        let half = T::from_f64(0.5);
        // F(2, 3)'s filter transform of one row or column: g ↦ G·g.
        let g_of = |g: [T; 3]| -> [T; 4] {
            [
                g[0],
                (g[0] + g[1] + g[2]) * half,
                (g[0] - g[1] + g[2]) * half,
                g[2],
            ]
        };
        u.resize(16 * c_out * c_in, T::ZERO);
        for (f, g) in w.chunks_exact(9).enumerate() {
            // G·g on each column (kx), then ·Gᵀ on each of the 4 rows that gives.
            let cols: [[T; 4]; 3] = std::array::from_fn(|kx| g_of([g[kx], g[3 + kx], g[6 + kx]]));
            for i in 0..4 {
                let row = g_of([cols[0][i], cols[1][i], cols[2][i]]);
                let (co, ci) = (f / c_in, f % c_in);
                for (j, &value) in row.iter().enumerate() {
                    u[((4 * i + j) * c_in + ci) * c_out + co] = value;
                }
            }
        }
    }

    /// `out = conv(x) (+ bias per channel)` for the images in `x` (rows of `c_in·h·w`), into
    /// the rows of `out` (`c_out·oh·ow`), with the transformed filters `u` of
    /// [`Winograd::filters`].
    pub fn run<T: Float>(
        &self,
        u: &[T],
        x: &[T],
        bias: Option<&[T]>,
        out: &mut [T],
        work: &mut Work<T>,
    ) {
        let (in_len, out_len) = (self.c_in * self.h * self.w, self.c_out * self.oh * self.ow);
        assert_eq!(u.len(), 16 * self.c_out * self.c_in, "Winograd: filters");
        for (x, out) in x
            .chunks(self.chunk * in_len)
            .zip(out.chunks_mut(self.chunk * out_len))
        {
            let images = x.len() / in_len;
            let n = images * self.tiles();
            self.input_tiles(x, images, work);
            // The 16 products, M[ξ] = V[ξ]ᵀ·U[ξ]ᵀ (tiles × c_out).
            work.m.resize(16 * self.c_out * n, T::ZERO);
            let (cu, cv, cm) = (self.c_out * self.c_in, self.c_in * n, self.c_out * n);
            for xi in 0..16 {
                let a = MatRef::new(&work.v[xi * cv..], n, self.c_in, 1, n);
                let b = MatRef::new(&u[xi * cu..], self.c_in, self.c_out, self.c_out, 1);
                let c = MatMut::new(&mut work.m[xi * cm..], n, self.c_out, self.c_out, 1);
                work.gemm
                    .run(
                        T::ONE,
                        a.expect("Vᵀ"),
                        b.expect("Uᵀ"),
                        T::ZERO,
                        c.expect("Mᵀ"),
                    )
                    .expect("Winograd: shapes fixed by the plan");
            }
            self.output_tiles(&work.m, images, bias, out, &mut work.rows);
        }
    }

    /// The weight gradient's products for the images in `x` (rows of `c_in·h·w`) and their
    /// output gradients `g` (rows of `c_out·oh·ow`), added to `work.du`, or written there
    /// when `first`; [`Winograd::filter_grads`] turns the sum into dW.
    ///
    /// The forward pass is `Y = Aᵀ [U ⊙ V] A` per tile, linear in `U = G g Gᵀ`, so
    /// `∂L/∂U = (A·dY·Aᵀ) ⊙ V` per tile, and summed over tiles and images that is again 16
    /// products, now of depth *tiles*:
    ///
    /// ```text
    ///   dU[ξ] (c_out × c_in)  +=  dY′[ξ] (c_out × tiles)  ·  V[ξ]ᵀ (tiles × c_in)
    /// ```
    ///
    /// with `dY′ = A·dY·Aᵀ`, 4×4 per tile from the tile's 2×2 of output gradient (zeros past
    /// an odd edge, and for the column of tiles that does not exist, so it adds nothing).
    pub fn weight_grads<T: Float>(&self, x: &[T], g: &[T], first: bool, work: &mut Work<T>) {
        let in_len = self.c_in * self.h * self.w;
        let images = x.len() / in_len;
        let n = images * self.tiles();
        self.input_tiles(x, images, work);
        self.grad_tiles(g, images, work);
        work.du.resize(16 * self.c_out * self.c_in, T::ZERO);
        let (cu, cv, cm) = (self.c_out * self.c_in, self.c_in * n, self.c_out * n);
        let beta = if first { T::ZERO } else { T::ONE };
        for xi in 0..16 {
            let a = MatRef::new(&work.m[xi * cm..], self.c_out, n, n, 1);
            let b = MatRef::new(&work.v[xi * cv..], n, self.c_in, 1, n);
            let c = MatMut::new(&mut work.du[xi * cu..], self.c_out, self.c_in, self.c_in, 1);
            work.gemm
                .run(
                    T::ONE,
                    a.expect("dY′"),
                    b.expect("Vᵀ"),
                    beta,
                    c.expect("dU"),
                )
                .expect("Winograd: shapes fixed by the plan");
        }
    }

    /// `dW = Gᵀ · dU · G` per filter, from the sums [`Winograd::weight_grads`] left in `work`,
    /// into `dw` (`c_out × c_in·9`).
    pub fn filter_grads<T: Float>(&self, work: &Work<T>, dw: &mut [T]) {
        let (c_out, c_in) = (self.c_out, self.c_in);
        assert_eq!(dw.len(), c_out * c_in * 9, "Winograd: filter shape");
        let half = T::from_f64(0.5);
        // Gᵀ of one row or column of dU: 4 values ↦ 3.
        let gt = |d: [T; 4]| -> [T; 3] {
            [
                d[0] + (d[1] + d[2]) * half,
                (d[1] - d[2]) * half,
                (d[1] + d[2]) * half + d[3],
            ]
        };
        for co in 0..c_out {
            for ci in 0..c_in {
                let du = |i: usize, j: usize| work.du[((4 * i + j) * c_out + co) * c_in + ci];
                // Gᵀ down each of the 4 columns, then across each of the 3 rows that gives.
                let cols: [[T; 3]; 4] =
                    std::array::from_fn(|j| gt([du(0, j), du(1, j), du(2, j), du(3, j)]));
                let f = &mut dw[(co * c_in + ci) * 9..(co * c_in + ci + 1) * 9];
                for ky in 0..3 {
                    let row = gt([cols[0][ky], cols[1][ky], cols[2][ky], cols[3][ky]]);
                    f[3 * ky..3 * ky + 3].copy_from_slice(&row);
                }
            }
        }
    }

    /// `dY′[ξ][co][t] = (A·dY·Aᵀ)[ξ]` for every output tile of `images` images, into
    /// `work.m` laid out `16 × c_out × columns` (the tiles numbered as `Winograd::input_tiles`
    /// numbers them). `A = [1 0; 1 1; 1 −1; 0 −1]`, so each entry is `±` a sum of the tile's
    /// four values `g[a][p]`: one pass over the split planes per ξ.
    fn grad_tiles<T: Float>(&self, g: &[T], images: usize, work: &mut Work<T>) {
        let (th, half) = (self.th, self.tw + 1);
        let (len, n) = (th * half, images * self.tiles());
        let quarter = (th + 1) * half;
        let plane = self.oh * self.ow;
        work.m.resize(16 * self.c_out * n, T::ZERO);
        work.pad.resize(4 * quarter, T::ZERO);
        let Work { pad, m, .. } = work;
        // A's entries: a[i][p] for tile row (or column) p ∈ {0, 1}.
        const A: [[i8; 2]; 4] = [[1, 0], [1, 1], [1, -1], [0, -1]];
        for (image, g) in g.chunks_exact(self.c_out * plane).enumerate() {
            for (co, src) in g.chunks_exact(plane).enumerate() {
                split_pad(src, self.ow, 0, half, pad);
                let q = |rp: usize, cp: usize| &pad[(2 * rp + cp) * quarter..][..len];
                let (g00, g01, g10, g11) = (q(0, 0), q(0, 1), q(1, 0), q(1, 1));
                for (xi, [i, j]) in (0..16).map(|xi| (xi, [xi / 4, xi % 4])) {
                    // dY′[i][j] = Σ_(a, p) A[i][a]·A[j][p]·g[a][p].
                    let c = |a: usize, p: usize| T::from_f64(f64::from(A[i][a] * A[j][p]));
                    let (c00, c01, c10, c11) = (c(0, 0), c(0, 1), c(1, 0), c(1, 1));
                    let start = (xi * self.c_out + co) * n + image * len;
                    let dst = &mut m[start..start + len];
                    for (d, (((&a, &b), &e), &f)) in
                        dst.iter_mut().zip(g00.iter().zip(g01).zip(g10).zip(g11))
                    {
                        *d = c00 * a + c01 * b + c10 * e + c11 * f;
                    }
                }
            }
        }
    }

    /// `V[ξ][ci][t] = (Bᵀ d B)[ξ]` for every input tile `d` of `images` images: laid out
    /// `16 × c_in × columns` in `work.v`, tile (ty, tx) of an image at column
    /// `image·th·(tw + 1) + ty·(tw + 1) + tx`.
    ///
    /// Tile (ty, tx) reads padded rows `2·ty …` and columns `2·tx …`: even, odd, even, odd
    /// both ways. So the padded plane is first split into its four quarters by row and column
    /// parity (one pass), each `th + 1` rows of `tw + 1`. In a quarter, the next tile down is
    /// one row on and the next tile across one value on, so every step of the transform is one
    /// element-by-element pass over a whole quarter, which vectorises, where a walk tile by
    /// tile does not (rows of 4–14 tiles are too short to). The price is the `(tw + 1)`-th
    /// column of each row: a tile that does not exist, computed and never written out — 7 %
    /// more columns for 28×28 images, 25 % for 8×8.
    fn input_tiles<T: Float>(&self, x: &[T], images: usize, work: &mut Work<T>) {
        let (th, half) = (self.th, self.tw + 1);
        let (len, n) = (th * half, images * self.tiles());
        let quarter = (th + 1) * half;
        let plane = self.h * self.w;
        work.v.resize(16 * self.c_in * n, T::ZERO);
        work.pad.resize(4 * quarter, T::ZERO);
        work.rows.resize(8 * len, T::ZERO);
        let Work { pad, rows, v, .. } = work;
        for (image, x) in x.chunks_exact(self.c_in * plane).enumerate() {
            for (ci, src) in x.chunks_exact(plane).enumerate() {
                split_pad(src, self.w, self.pad, half, pad);
                // Columns first: Bᵀ down every tile, for the even and the odd columns. Row
                // 2·ty + 2 is the same-parity quarter one row (`half` values) on.
                for cp in 0..2 {
                    let q = |rp: usize, on: usize| {
                        let start = (2 * rp + cp) * quarter + on * half;
                        &pad[start..start + len]
                    };
                    let (r0, r1, r2, r3) = (q(0, 0), q(1, 0), q(0, 1), q(1, 1));
                    let w = &mut rows[4 * cp * len..4 * (cp + 1) * len];
                    let (w0, rest) = w.split_at_mut(len);
                    let (w1, rest) = rest.split_at_mut(len);
                    let (w2, w3) = rest.split_at_mut(len);
                    sub(w0, r0, r2);
                    add(w1, r1, r2);
                    sub(w2, r2, r1);
                    sub(w3, r1, r3);
                }
                // Then Bᵀ across: (e, o, e⁺, o⁺) ↦ (e − e⁺, o + e⁺, e⁺ − o, o − o⁺), where
                // e⁺ is the next value of the even half.
                let at = image * len;
                for i in 0..4 {
                    let (e, o) = (
                        &rows[i * len..(i + 1) * len],
                        &rows[(4 + i) * len..(5 + i) * len],
                    );
                    let start = |j: usize| ((4 * i + j) * self.c_in + ci) * n + at;
                    let body = len - 1;
                    let (e0, e1, o0) = (&e[..body], &e[1..], &o[..body]);
                    sub(&mut v[start(0)..start(0) + body], e0, e1);
                    add(&mut v[start(1)..start(1) + body], o0, e1);
                    sub(&mut v[start(2)..start(2) + body], e1, o0);
                    sub(&mut v[start(3)..start(3) + body], o0, &o[1..]);
                    // The last column of the last row is a tile that does not exist.
                    for j in 0..4 {
                        v[start(j) + body] = T::ZERO;
                    }
                }
            }
        }
    }

    /// `out = Aᵀ M A (+ bias)` for every output tile of `images` images, cut at the image's
    /// edge where `oh` or `ow` is odd. `M[ξ]` is laid out `columns × c_out`, so each step is
    /// one pass over a tile's `c_out` channels.
    fn output_tiles<T: Float>(
        &self,
        m: &[T],
        images: usize,
        bias: Option<&[T]>,
        out: &mut [T],
        scratch: &mut Vec<T>,
    ) {
        let (th, tw, half, c_out) = (self.th, self.tw, self.tw + 1, self.c_out);
        let n = images * self.tiles();
        let (oh, ow) = (self.oh, self.ow);
        scratch.resize(4 * c_out, T::ZERO);
        for (image, out) in out.chunks_exact_mut(c_out * oh * ow).enumerate() {
            for ty in 0..th {
                for tx in 0..tw {
                    let t = image * th * half + ty * half + tx;
                    let mm: [&[T]; 16] = std::array::from_fn(|xi| {
                        let start = (xi * n + t) * c_out;
                        &m[start..start + c_out]
                    });
                    // Aᵀ · M · A for this tile, every channel at once: y[2·a + p] for output
                    // row 2·ty + a and column 2·tx + p, with Aᵀ = [1 1 1 0; 0 1 −1 −1].
                    let (y0, rest) = scratch.split_at_mut(c_out);
                    let (y1, rest) = rest.split_at_mut(c_out);
                    let (y2, y3) = rest.split_at_mut(c_out);
                    for co in 0..c_out {
                        let s = |j: usize| {
                            (
                                mm[j][co] + mm[4 + j][co] + mm[8 + j][co],
                                mm[4 + j][co] - mm[8 + j][co] - mm[12 + j][co],
                            )
                        };
                        let (s0, s1, s2, s3) = (s(0), s(1), s(2), s(3));
                        let b = bias.map_or(T::ZERO, |b| b[co]);
                        y0[co] = s0.0 + s1.0 + s2.0 + b;
                        y1[co] = s1.0 - s2.0 - s3.0 + b;
                        y2[co] = s0.1 + s1.1 + s2.1 + b;
                        y3[co] = s1.1 - s2.1 - s3.1 + b;
                    }
                    // Into the output planes, the edges cut.
                    let (y, x) = (2 * ty, 2 * tx);
                    let (down, right) = (y + 1 < oh, x + 1 < ow);
                    for (co, plane) in out.chunks_exact_mut(oh * ow).enumerate() {
                        let at = y * ow + x;
                        plane[at] = y0[co];
                        if right {
                            plane[at + 1] = y1[co];
                        }
                        if down {
                            plane[at + ow] = y2[co];
                            if right {
                                plane[at + ow + 1] = y3[co];
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `dst = p − q`, element by element.
fn sub<T: Float>(dst: &mut [T], p: &[T], q: &[T]) {
    for (d, (&p, &q)) in dst.iter_mut().zip(p.iter().zip(q)) {
        *d = p - q;
    }
}

/// `dst = p + q`, element by element.
fn add<T: Float>(dst: &mut [T], p: &[T], q: &[T]) {
    for (d, (&p, &q)) in dst.iter_mut().zip(p.iter().zip(q)) {
        *d = p + q;
    }
}

/// One `h × w` plane (rows of `w` in `src`), padded by `border` zeros at the top and left
/// (and zeros to the end), as its four quarters by (row parity, column parity) in `quarters`:
/// quarter `2·rp + cp` holds the padded values at (2·r + rp, 2·c + cp), rows of `half`.
fn split_pad<T: Float>(src: &[T], w: usize, border: usize, half: usize, quarters: &mut [T]) {
    quarters.fill(T::ZERO);
    let quarter = quarters.len() / 4;
    for (y, row) in src.chunks_exact(w).enumerate() {
        let py = border + y;
        let base = (2 * (py % 2)) * quarter + (py / 2) * half;
        let (even, odd) = quarters[base..].split_at_mut(quarter);
        // Image column x is padded column border + x. An odd border puts x = 0 in the odd
        // half; the pairs after it then start on an even padded column.
        let (mut e, o, row) = match border % 2 {
            0 => (border / 2, border / 2, row),
            _ => {
                odd[border / 2] = row[0];
                (border / 2 + 1, border / 2 + 1, &row[1..])
            }
        };
        // Whole (even, odd) pairs, then an odd last value.
        let mut pairs = row.chunks_exact(2);
        let count = row.len() / 2;
        for ((de, do_), pair) in even[e..e + count]
            .iter_mut()
            .zip(odd[o..o + count].iter_mut())
            .zip(&mut pairs)
        {
            *de = pair[0];
            *do_ = pair[1];
        }
        e += count;
        if let [last] = pairs.remainder() {
            even[e] = *last;
        }
    }
}

/// One thread's buffers for [`Winograd::run`] and the GEMM context of its 16 products. The
/// products run on the packed loops of one thread (`threaded` with one thread: the microkernel
/// the CPU's best, picked by shape), whatever their size, so a value never depends on how many
/// images shared its chunk.
#[derive(Debug)]
pub struct Work<T> {
    gemm: Gemm<T>,
    pad: Vec<T>,
    rows: Vec<T>,
    v: Vec<T>,
    m: Vec<T>,
    /// The weight gradient's 16 sums, `16 × c_out × c_in`.
    du: Vec<T>,
}

impl<T: Float> Default for Work<T> {
    fn default() -> Self {
        Work {
            gemm: Gemm::with_threads(Kernel::Threaded, 1),
            pad: Vec::new(),
            rows: Vec::new(),
            v: Vec::new(),
            m: Vec::new(),
            du: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The convolution by its definition, in f64.
    fn direct(wg: &Winograd, w: &[f64], b: &[f64], x: &[f64]) -> Vec<f64> {
        let (h, ww, pad) = (wg.h as isize, wg.w as isize, wg.pad as isize);
        let mut out = Vec::new();
        for image in x.chunks_exact(wg.c_in * wg.h * wg.w) {
            for co in 0..wg.c_out {
                for oy in 0..wg.oh as isize {
                    for ox in 0..wg.ow as isize {
                        let mut s = b[co];
                        for ci in 0..wg.c_in {
                            for ky in 0..3isize {
                                for kx in 0..3isize {
                                    let (y, xx) = (oy + ky - pad, ox + kx - pad);
                                    if (0..h).contains(&y) && (0..ww).contains(&xx) {
                                        let v = image[ci * wg.h * wg.w + (y * ww + xx) as usize];
                                        s +=
                                            w[(co * wg.c_in + ci) * 9 + (ky * 3 + kx) as usize] * v;
                                    }
                                }
                            }
                        }
                        out.push(s);
                    }
                }
            }
        }
        out
    }

    fn values(len: usize, seed: u64) -> Vec<f64> {
        // A small deterministic spread of values in [-1, 1).
        (0..len as u64)
            .map(|i| {
                let v = (i.wrapping_mul(2654435761).wrapping_add(seed * 97)) % 1000;
                v as f64 / 500.0 - 1.0
            })
            .collect()
    }

    /// (c_in, c_out, h, w, pad): odd and even planes, every padding, a 1×1 image.
    const GEOMETRIES: [(usize, usize, usize, usize, usize); 6] = [
        (1, 1, 3, 3, 0),
        (2, 3, 5, 5, 1),
        (3, 2, 4, 7, 0),
        (4, 5, 6, 6, 2),
        (2, 2, 1, 1, 1),
        (5, 3, 7, 4, 1),
    ];

    #[test]
    fn it_is_the_convolution_on_odd_even_and_padded_planes_across_chunks() {
        let more = [(16, 16, 9, 9, 1), (3, 7, 2, 9, 2)];
        for (c_in, c_out, h, w, pad) in GEOMETRIES.into_iter().chain(more) {
            let base = Winograd::new(c_in, c_out, h, w, pad).unwrap();
            let w_ = values(c_out * c_in * 9, 1);
            let b = values(c_out, 2);
            for images in [1, 2, 5] {
                let x = values(images * c_in * h * w, 3 + images as u64);
                let want = direct(&base, &w_, &b, &x);
                for chunk in [1, 2, 3, 64] {
                    let wg = base.clone().with_chunk(chunk);
                    let mut u = Vec::new();
                    wg.filters(&w_, &mut u);
                    let mut out = vec![f64::NAN; want.len()];
                    let mut work = Work::default();
                    wg.run(&u, &x, Some(&b), &mut out, &mut work);
                    for (i, (&got, &want)) in out.iter().zip(&want).enumerate() {
                        // Σ|w·x| ≤ c_in·9 here; the transforms add a few roundings each.
                        let bound = 1e-14 * (c_in * 9) as f64;
                        assert!(
                            (got - want).abs() <= bound,
                            "{c_in}→{c_out} {h}×{w} pad {pad}, {images} images by {chunk}: \
                             [{i}] {got} vs {want}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn weight_grads_are_the_correlation_of_input_and_output_gradient() {
        for (c_in, c_out, h, w, pad) in GEOMETRIES {
            let base = Winograd::new(c_in, c_out, h, w, pad).unwrap();
            let (oh, ow) = (base.oh, base.ow);
            for images in [1, 3] {
                let x = values(images * c_in * h * w, 7 + images as u64);
                let g = values(images * c_out * oh * ow, 11 + images as u64);
                let mut want = vec![0.0; c_out * c_in * 9];
                for n in 0..images {
                    for co in 0..c_out {
                        for ci in 0..c_in {
                            for t in 0..9 {
                                let (ky, kx) = (t / 3, t % 3);
                                for oy in 0..oh {
                                    for ox in 0..ow {
                                        let (y, xx) = (oy + ky, ox + kx);
                                        if y < pad || xx < pad || y - pad >= h || xx - pad >= w {
                                            continue;
                                        }
                                        let xv =
                                            x[(n * c_in + ci) * h * w + (y - pad) * w + xx - pad];
                                        let gv = g[(n * c_out + co) * oh * ow + oy * ow + ox];
                                        want[(co * c_in + ci) * 9 + t] += gv * xv;
                                    }
                                }
                            }
                        }
                    }
                }
                for chunk in [1, 2, 8] {
                    let wg = base.clone().with_chunk(chunk);
                    let mut work = Work::default();
                    let (in_len, out_len) = (c_in * h * w, c_out * oh * ow);
                    for (k, (xs, gs)) in x
                        .chunks(chunk * in_len)
                        .zip(g.chunks(chunk * out_len))
                        .enumerate()
                    {
                        wg.weight_grads(xs, gs, k == 0, &mut work);
                    }
                    let mut dw = vec![f64::NAN; want.len()];
                    wg.filter_grads(&work, &mut dw);
                    let bound = 1e-13 * (images * oh * ow) as f64;
                    for (i, (&got, &want)) in dw.iter().zip(&want).enumerate() {
                        assert!(
                            (got - want).abs() <= bound,
                            "{c_in}→{c_out} {h}×{w} pad {pad}, {images} images by {chunk}: \
                             dW[{i}] {got} vs {want}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn f32_stays_within_a_few_ulp_of_the_f64_sum() {
        let wg = Winograd::new(16, 8, 10, 10, 1).unwrap();
        let w = values(8 * 16 * 9, 5);
        let x = values(2 * 16 * 100, 6);
        let b = vec![0.0; 8];
        let want = direct(&wg, &w, &b, &x);
        let (w32, x32): (Vec<f32>, Vec<f32>) = (
            w.iter().map(|&v| v as f32).collect(),
            x.iter().map(|&v| v as f32).collect(),
        );
        let mut u = Vec::new();
        wg.filters(&w32, &mut u);
        let mut out = vec![f32::NAN; want.len()];
        wg.run(&u, &x32, None, &mut out, &mut Work::default());
        // Σ|w·x| ≤ 144; f32's ε is 1.2e-7, and the inputs were rounded to f32 too.
        for (&got, &want) in out.iter().zip(&want) {
            assert!(
                (got as f64 - want).abs() <= 144.0 * 4.0 * 1.2e-7,
                "{got} vs {want}"
            );
        }
    }

    #[test]
    fn filters_transform_is_g_g_gt() {
        // A filter with a single 1 at (ky, kx) transforms to the outer product of G's columns.
        let g = [
            [1.0, 0.0, 0.0],
            [0.5, 0.5, 0.5],
            [0.5, -0.5, 0.5],
            [0.0, 0.0, 1.0],
        ];
        let wg = Winograd::new(1, 1, 4, 4, 0).unwrap();
        for tap in 0..9 {
            let mut w = [0.0f64; 9];
            w[tap] = 1.0;
            let mut u = Vec::new();
            wg.filters(&w, &mut u);
            for i in 0..4 {
                for j in 0..4 {
                    assert_eq!(
                        u[4 * i + j],
                        g[i][tap / 3] * g[j][tap % 3],
                        "tap {tap} ({i},{j})"
                    );
                }
            }
        }
    }

    #[test]
    fn paddings_past_two_and_empty_outputs_are_refused() {
        assert!(Winograd::new(1, 1, 4, 4, 3).is_none());
        assert!(Winograd::new(1, 1, 2, 2, 0).is_none());
        assert!(Winograd::new(0, 1, 4, 4, 1).is_none());
        assert!(Winograd::new(1, 1, 1, 1, 1).is_some());
    }
}
