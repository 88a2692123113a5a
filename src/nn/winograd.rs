//! Winograd's minimal filtering F(m×m, 3×3): a 3×3 stride-1 convolution with 2.25× (m = 2)
//! or 4× (m = 4) fewer multiplications than im2col's product.
//!
//! A 3×3 filter `g` slid over an α×α input tile `d` (α = m + 2) gives an m×m output tile.
//! im2col computes it as m² dot products of 9, 9·m² multiplications. Winograd (Lavin and
//! Gray, "Fast Algorithms for Convolutional Neural Networks", 2015) computes it as
//!
//! ```text
//!   Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A          α² multiplications (⊙: element by element)
//! ```
//!
//! with three constant matrices per m (see [`Tile`]). For F(2×2, 3×3):
//!
//! ```text
//!        ⎡1  0 −1  0⎤        ⎡ 1    0    0 ⎤
//!   Bᵀ = ⎢0  1  1  0⎥    G = ⎢ ½    ½    ½ ⎥    Aᵀ = ⎡1  1  1  0⎤
//!        ⎢0 −1  1  0⎥        ⎢ ½   −½    ½ ⎥         ⎣0  1 −1 −1⎦
//!        ⎣0  1  0 −1⎦        ⎣ 0    0    1 ⎦
//! ```
//!
//! In one dimension that is F(2, 3): with `m₁ = (d₀ − d₂)·g₀`, `m₂ = (d₁ + d₂)·(g₀ + g₁ + g₂)/2`,
//! `m₃ = (d₂ − d₁)·(g₀ − g₁ + g₂)/2`, `m₄ = (d₁ − d₃)·g₂`, the outputs are `y₀ = m₁ + m₂ + m₃`
//! and `y₁ = m₂ − m₃ − m₄` — expand them and they are `d₀g₀ + d₁g₁ + d₂g₂` and
//! `d₁g₀ + d₂g₁ + d₃g₂`. The 2-D version nests it along rows and columns. F(4, 3) is the same
//! construction on the points 0, ±1, ±2 (and ∞): 6 multiplications for 4 outputs instead of
//! 12, at the price of transform entries up to 8 and divisions by 6 and 24.
//!
//! What makes it a *layer* algorithm rather than a tile trick is where the sum over input
//! channels goes. The transforms are linear, so `Σ_ci` can move inside the brackets: with
//! `U = G g Gᵀ` per (co, ci) and `V = Bᵀ d B` per (ci, tile), each of the α² positions ξ of
//! the transformed tile is an independent matrix product
//!
//! ```text
//!   M[ξ] (tiles × c_out)  =  V[ξ] (tiles × c_in)  ·  U[ξ]ᵀ (c_in × c_out)      ξ = 0..α²
//! ```
//!
//! and the output is `Aᵀ M A` per (tile, co). The tiles are the products' long side, m, in
//! whole row tiles of the microkernel, and the channels the short one, n = c_out, in whole
//! panels: the other way round, 16 or 32 filters are 3 or 6 row tiles with a partial one,
//! whose edge handling cost more than the arithmetic at these depths. So the layer is:
//! transform the input tiles, α² GEMMs on our ladder of depth `c_in`, transform back. The
//! products do `α²·c_out·c_in` multiply-adds per tile where im2col does `9m²·c_out·c_in`.
//!
//! **Channels innermost.** Each pass first lays the image out pixel by pixel with its `c`
//! values together, every row split by column residue mod m (see `interleave`), so that
//! `V[ξ]` and `M[ξ]` are row-major (one tile's channels in a row) and the same column of the
//! next tile along is the next pixel. Then a whole row of tiles goes through each step of a
//! transform as one pass over `tw·c` contiguous values ([`map_lanes`]): one pass down (each
//! position's column of α values to α) and α across for the input, the same backwards for the
//! output, each applying the one-dimensional transform in its factored form (`bt4` and
//! friends: shared sums, no multiplications by 0 or ±1). An earlier layout
//! vectorised over the tiles of one channel's plane instead, whose rows are 2–14 tiles long,
//! and needed a column of tiles that do not exist; a tile-by-tile one with the channels as
//! the vector made α² calls of only `c` values per tile. docs/cnn.md has the measurements.

//! The input gradient of a stride-1 convolution is again one (see [`super::shifted`]): the
//! output gradient padded by `2 − pad`, with the filters flipped and their channels swapped,
//! so the same code serves the forward pass and dx.
//!
//! The result is not bit for bit im2col's: the products sum over `c_in` in another
//! association, and the transforms round. F(2×2)'s entries are 0, ±½ and ±1, and every value
//! stays within a few ulp of the direct sum times its magnitude; F(4×4)'s larger entries
//! cost about an order of magnitude more (both bounded by the tests), still far below what
//! f32 training notices.

use crate::matrix::gemm::{Gemm, Kernel};
use crate::matrix::lanes::map_lanes;
use crate::matrix::{Float, MatMut, MatRef};

/// The working set a chunk of images may use for `V` and `M` together: 512 KiB, a Zen 3
/// core's L2 (half of Zen 4's or 5's), so the GEMMs read `V` and write `M` near where the
/// input transform left them and the output transform finds them.
pub const CHUNK_BYTES: usize = 512 << 10;

/// The fewest GEMM rows (tiles) a chunk should give, where [`CHUNK_BYTES`] would allow
/// fewer: a product of 16 rows (one 8×8 image in F(2×2)) spends more on packing and edges
/// than on arithmetic. Measured on 100 images of 64 → 64 channels at 8×8 (Zen 3): 7.3 ms a
/// chunk of one image, 6.0 of four, 5.8 of eight.
pub const CHUNK_MIN_TILES: usize = 96;

/// Which of Winograd's algorithms a plan runs: the side m of its output tile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tile {
    /// F(2×2, 3×3): 4×4 input tiles, 16 products, entries 0, ±½, ±1.
    F2,
    /// F(4×4, 3×3): 6×6 input tiles, 36 products, 2.25 multiplications per output where F2
    /// does 4.
    F4,
}

/// One algorithm's three matrices, from Lavin and Gray (2015). Only the first α rows and
/// columns of `bt` and `g` and the first m rows of `at` are used.
///
/// The layers use `g` as it is (the filter transforms, in f64). Bᵀ, A and Aᵀ are applied by
/// their factored forms ([`bt2`], [`bt4`], …), which share sums between rows and never
/// multiply by 0 or ±1; the matrices stay as their definition, for the tests that check the
/// factored forms against them.
struct Algebra {
    m: usize,
    #[cfg(test)]
    bt: [[f64; 6]; 6],
    g: [[f64; 3]; 6],
    #[cfg(test)]
    at: [[f64; 6]; 4],
}

const F2: Algebra = Algebra {
    m: 2,
    #[cfg(test)]
    bt: [
        [1.0, 0.0, -1.0, 0.0, 0.0, 0.0],
        [0.0, 1.0, 1.0, 0.0, 0.0, 0.0],
        [0.0, -1.0, 1.0, 0.0, 0.0, 0.0],
        [0.0, 1.0, 0.0, -1.0, 0.0, 0.0],
        [0.0; 6],
        [0.0; 6],
    ],
    g: [
        [1.0, 0.0, 0.0],
        [0.5, 0.5, 0.5],
        [0.5, -0.5, 0.5],
        [0.0, 0.0, 1.0],
        [0.0; 3],
        [0.0; 3],
    ],
    #[cfg(test)]
    at: [
        [1.0, 1.0, 1.0, 0.0, 0.0, 0.0],
        [0.0, 1.0, -1.0, -1.0, 0.0, 0.0],
        [0.0; 6],
        [0.0; 6],
    ],
};

const F4: Algebra = Algebra {
    m: 4,
    #[cfg(test)]
    bt: [
        [4.0, 0.0, -5.0, 0.0, 1.0, 0.0],
        [0.0, -4.0, -4.0, 1.0, 1.0, 0.0],
        [0.0, 4.0, -4.0, -1.0, 1.0, 0.0],
        [0.0, -2.0, -1.0, 2.0, 1.0, 0.0],
        [0.0, 2.0, -1.0, -2.0, 1.0, 0.0],
        [0.0, 4.0, 0.0, -5.0, 0.0, 1.0],
    ],
    g: [
        [1.0 / 4.0, 0.0, 0.0],
        [-1.0 / 6.0, -1.0 / 6.0, -1.0 / 6.0],
        [-1.0 / 6.0, 1.0 / 6.0, -1.0 / 6.0],
        [1.0 / 24.0, 1.0 / 12.0, 1.0 / 6.0],
        [1.0 / 24.0, -1.0 / 12.0, 1.0 / 6.0],
        [0.0, 0.0, 1.0],
    ],
    #[cfg(test)]
    at: [
        [1.0, 1.0, 1.0, 1.0, 1.0, 0.0],
        [0.0, 1.0, -1.0, 2.0, -2.0, 0.0],
        [0.0, 1.0, 1.0, 4.0, 4.0, 0.0],
        [0.0, 1.0, -1.0, 8.0, -8.0, 1.0],
    ],
};

impl Tile {
    fn algebra(self) -> &'static Algebra {
        match self {
            Tile::F2 => &F2,
            Tile::F4 => &F4,
        }
    }

    /// The output tile's side m.
    pub fn m(self) -> usize {
        self.algebra().m
    }

    /// The tile for an `oh × ow` output: F(4×4) where 4 divides both sides, else F(2×2).
    /// Their transforms cost about the same per output value, so F(4×4)'s fewer
    /// multiplications pay only where its tiles do not hang over the edge: on 14×14 outputs
    /// a quarter of its tiles' values are past it. Measured on the Zen 3 VM, DeepConvNet's
    /// layers forward + backward (ms per step, F2 against F4): 32 → 32 at 16×16, 18.3 against
    /// 16.0; 64 → 64 at 8×8, 13.6 against 12.3; 16 → 32's dx at 14×14, 10.8 against 11.8.
    pub fn for_output(oh: usize, ow: usize) -> Tile {
        match oh.is_multiple_of(4) && ow.is_multiple_of(4) {
            true => Tile::F4,
            false => Tile::F2,
        }
    }

    /// The input tile's side α = m + 2, so α² products.
    pub fn alpha(self) -> usize {
        self.m() + 2
    }
}

/// Bᵀ·d for F(2×2): `[d₀ − d₂, d₁ + d₂, d₂ − d₁, d₁ − d₃]`.
#[inline(always)]
fn bt2<T: Float>([d0, d1, d2, d3]: [T; 4]) -> [T; 4] {
    [d0 - d2, d1 + d2, d2 - d1, d1 - d3]
}

/// A·g for F(2×2) (A = (Aᵀ)ᵀ, 4 × 2): `[g₀, g₀ + g₁, g₀ − g₁, −g₁]`.
#[inline(always)]
fn a2<T: Float>([g0, g1]: [T; 2]) -> [T; 4] {
    [g0, g0 + g1, g0 - g1, -g1]
}

/// Aᵀ·m for F(2×2): `[m₀ + m₁ + m₂, m₁ − m₂ − m₃]`.
#[inline(always)]
fn at2<T: Float>([m0, m1, m2, m3]: [T; 4]) -> [T; 2] {
    [m0 + m1 + m2, m1 - m2 - m3]
}

/// Bᵀ·d for F(4×4), its rows paired by the sums they share: rows 1 and 2 are
/// `(d₃ + d₄) − 4(d₁ + d₂)` and `(d₄ − d₃) + 4(d₁ − d₂)`, rows 3 and 4 are
/// `(d₄ − d₂) ± 2(d₃ − d₁)`. 21 operations, 6 of them multiplications, where a pass per row
/// of the matrix does 38: a multiplication for each of its 22 non-zero entries, 16 additions.
#[inline(always)]
fn bt4<T: Float>([d0, d1, d2, d3, d4, d5]: [T; 6]) -> [T; 6] {
    let (four, five) = (T::from_f64(4.0), T::from_f64(5.0));
    let (s12, s34) = (d1 + d2, d3 + d4);
    let (d12, d43) = (d1 - d2, d4 - d3);
    let (two31, d42) = ((d3 - d1) + (d3 - d1), d4 - d2);
    [
        four * d0 - five * d2 + d4,
        s34 - four * s12,
        d43 + four * d12,
        d42 + two31,
        d42 - two31,
        four * d1 - five * d3 + d5,
    ]
}

/// A·g for F(4×4) (6 × 4, rows `[1, x, x², x³]` at x = 0, 1, −1, 2, −2 and the point at
/// infinity): the even and odd powers summed once, `(g₀ + g₂) ± (g₁ + g₃)` and
/// `(g₀ + 4g₂) ± 2(g₁ + 4g₃)`.
#[inline(always)]
fn a4<T: Float>([g0, g1, g2, g3]: [T; 4]) -> [T; 6] {
    let (two, four) = (T::from_f64(2.0), T::from_f64(4.0));
    let (even, odd) = (g0 + g2, g1 + g3);
    let (even4, odd4) = (g0 + four * g2, two * (g1 + four * g3));
    [g0, even + odd, even - odd, even4 + odd4, even4 - odd4, g3]
}

/// Aᵀ·m for F(4×4) (A·g's transpose): with `s = m₁ + m₂`, `d = m₁ − m₂`, `s′ = m₃ + m₄`,
/// `d′ = m₃ − m₄`, the outputs are `m₀ + s + s′`, `d + 2d′`, `s + 4s′`, `d + 8d′ + m₅`.
#[inline(always)]
fn at4<T: Float>([m0, m1, m2, m3, m4, m5]: [T; 6]) -> [T; 4] {
    let (two, four, eight) = (T::from_f64(2.0), T::from_f64(4.0), T::from_f64(8.0));
    let (s, d) = (m1 + m2, m1 - m2);
    let (s2, d2) = (m3 + m4, m3 - m4);
    [
        m0 + s + s2,
        d + two * d2,
        s + four * s2,
        d + eight * d2 + m5,
    ]
}

/// `O` runs of `len` values of `buf`, the first at `start`, each `stride` after the last.
fn runs_mut<T, const O: usize>(
    buf: &mut [T],
    start: usize,
    stride: usize,
    len: usize,
) -> [&mut [T]; O] {
    let mut runs = buf[start..].chunks_mut(stride);
    std::array::from_fn(|_| &mut runs.next().expect("runs_mut: buffer too short")[..len])
}

/// One 3×3 stride-1 convolution in the Winograd domain: `c_in` planes of `h × w`, zero
/// padding `pad` (at most 2, so that its transpose needs none below 0), `c_out` outputs of
/// `oh × ow`, in output tiles of `tile`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Winograd {
    /// Input channels.
    pub c_in: usize,
    /// Output channels.
    pub c_out: usize,
    h: usize,
    w: usize,
    pad: usize,
    /// Output height.
    pub oh: usize,
    /// Output width.
    pub ow: usize,
    tile: Tile,
    /// Output tiles down and across: `⌈oh/m⌉`, `⌈ow/m⌉`.
    th: usize,
    tw: usize,
    /// Images per chunk (see [`CHUNK_BYTES`]).
    chunk: usize,
}

impl Winograd {
    /// The convolution of `c_out` 3×3 filters over `c_in` × `h` × `w` images with padding
    /// `pad`, in output tiles of `tile`, or `None` where it has no output, or `pad > 2`.
    pub fn new(
        tile: Tile,
        c_in: usize,
        c_out: usize,
        h: usize,
        w: usize,
        pad: usize,
    ) -> Option<Self> {
        if pad > 2 || c_in == 0 || c_out == 0 || h + 2 * pad < 3 || w + 2 * pad < 3 {
            return None;
        }
        let (oh, ow) = (h + 2 * pad - 2, w + 2 * pad - 2);
        let m = tile.m();
        let (th, tw) = (oh.div_ceil(m), ow.div_ceil(m));
        let tiles = th * tw;
        let a2 = tile.alpha() * tile.alpha();
        let by_bytes = CHUNK_BYTES / (a2 * (c_in + c_out) * tiles * size_of::<f32>());
        let chunk = by_bytes.max(CHUNK_MIN_TILES.div_ceil(tiles)).max(1);
        Some(Winograd {
            c_in,
            c_out,
            h,
            w,
            pad,
            oh,
            ow,
            tile,
            th,
            tw,
            chunk,
        })
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

    /// The output tile this plan computes in.
    pub fn tile(&self) -> Tile {
        self.tile
    }

    /// Output tiles (GEMM rows) per image.
    fn tiles(&self) -> usize {
        self.th * self.tw
    }

    /// α², the number of products.
    fn products(&self) -> usize {
        let alpha = self.tile.alpha();
        alpha * alpha
    }

    /// `U[ξ] = (G g Gᵀ)[ξ]` for every filter, into `u` laid out `α² × c_in × c_out` (each
    /// `U[ξ]ᵀ`, the products' B operand), from `w` (`c_out × c_in·9`, PyTorch's
    /// `[out, in, 3, 3]`). Computed in f64 and rounded once: F(4×4)'s G has sixths.
    pub fn filters<T: Float>(&self, w: &[T], u: &mut Vec<T>) {
        let (c_out, c_in, alpha) = (self.c_out, self.c_in, self.tile.alpha());
        let g = &self.tile.algebra().g;
        assert_eq!(w.len(), c_out * c_in * 9, "Winograd: filter shape");
        u.resize(self.products() * c_out * c_in, T::ZERO);
        // Filter by filter into a block of 16 output channels, then each ξ's 16 values at
        // once: ξ's rows are `c_in·c_out` values apart, and 36 write streams that far apart
        // share L1 sets, which made writing value by value the slow part.
        const BLOCK: usize = 16;
        let mut block = [[0.0f64; BLOCK]; 36];
        for ci in 0..c_in {
            for co0 in (0..c_out).step_by(BLOCK) {
                let cols = BLOCK.min(c_out - co0);
                for b in 0..cols {
                    let taps = &w[((co0 + b) * c_in + ci) * 9..][..9];
                    let t: [f64; 9] = std::array::from_fn(|k| taps[k].to_f64());
                    // G·g (α × 3), then ·Gᵀ.
                    let mut gg = [[0.0; 3]; 6];
                    for (row, gi) in gg.iter_mut().zip(g).take(alpha) {
                        for (kx, value) in row.iter_mut().enumerate() {
                            *value = gi[0] * t[kx] + gi[1] * t[3 + kx] + gi[2] * t[6 + kx];
                        }
                    }
                    for (i, row) in gg.iter().enumerate().take(alpha) {
                        for (j, gj) in g.iter().enumerate().take(alpha) {
                            block[alpha * i + j][b] =
                                row[0] * gj[0] + row[1] * gj[1] + row[2] * gj[2];
                        }
                    }
                }
                for (xi, values) in block.iter().enumerate().take(alpha * alpha) {
                    let dst = &mut u[(xi * c_in + ci) * c_out + co0..][..cols];
                    for (d, &v) in dst.iter_mut().zip(values) {
                        *d = T::from_f64(v);
                    }
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
        assert_eq!(
            u.len(),
            self.products() * self.c_out * self.c_in,
            "Winograd: filters"
        );
        for (x, out) in x
            .chunks(self.chunk * in_len)
            .zip(out.chunks_mut(self.chunk * out_len))
        {
            let images = x.len() / in_len;
            let n = images * self.tiles();
            self.input_tiles(x, images, work);
            // The α² products, M[ξ] = V[ξ]·U[ξ]ᵀ (tiles × c_out).
            work.m.resize(self.products() * self.c_out * n, T::ZERO);
            let (cu, cv, cm) = (self.c_out * self.c_in, self.c_in * n, self.c_out * n);
            for xi in 0..self.products() {
                let a = MatRef::new(&work.v[xi * cv..], n, self.c_in, self.c_in, 1);
                let b = MatRef::new(&u[xi * cu..], self.c_in, self.c_out, self.c_out, 1);
                let c = MatMut::new(&mut work.m[xi * cm..], n, self.c_out, self.c_out, 1);
                work.gemm
                    .run(
                        T::ONE,
                        a.expect("V"),
                        b.expect("Uᵀ"),
                        T::ZERO,
                        c.expect("M"),
                    )
                    .expect("Winograd: shapes fixed by the plan");
            }
            self.output_tiles(images, bias, out, work);
        }
    }

    /// The weight gradient's products for the images in `x` (rows of `c_in·h·w`) and their
    /// output gradients `g` (rows of `c_out·oh·ow`), added to `work.du`, or written there
    /// when `first`; [`Winograd::filter_grads`] turns the sum into dW.
    ///
    /// The forward pass is `Y = Aᵀ [U ⊙ V] A` per tile, linear in `U = G g Gᵀ`, so
    /// `∂L/∂U = (A·dY·Aᵀ) ⊙ V` per tile, and summed over tiles and images that is again α²
    /// products, now of depth *tiles*:
    ///
    /// ```text
    ///   dU[ξ] (c_out × c_in)  +=  dY′[ξ]ᵀ (c_out × tiles)  ·  V[ξ] (tiles × c_in)
    /// ```
    ///
    /// with `dY′ = A·dY·Aᵀ`, α×α per tile from the tile's m×m of output gradient (zeros past
    /// the image's edge, so the part of a tile past it adds nothing).
    pub fn weight_grads<T: Float>(&self, x: &[T], g: &[T], first: bool, work: &mut Work<T>) {
        let in_len = self.c_in * self.h * self.w;
        let images = x.len() / in_len;
        let n = images * self.tiles();
        self.input_tiles(x, images, work);
        self.grad_tiles(g, images, work);
        work.du
            .resize(self.products() * self.c_out * self.c_in, T::ZERO);
        let (cu, cv, cm) = (self.c_out * self.c_in, self.c_in * n, self.c_out * n);
        let beta = if first { T::ZERO } else { T::ONE };
        for xi in 0..self.products() {
            let a = MatRef::new(&work.m[xi * cm..], self.c_out, n, 1, self.c_out);
            let b = MatRef::new(&work.v[xi * cv..], n, self.c_in, self.c_in, 1);
            let c = MatMut::new(&mut work.du[xi * cu..], self.c_out, self.c_in, self.c_in, 1);
            work.gemm
                .run(
                    T::ONE,
                    a.expect("dY′ᵀ"),
                    b.expect("V"),
                    beta,
                    c.expect("dU"),
                )
                .expect("Winograd: shapes fixed by the plan");
        }
    }

    /// `dW = Gᵀ · dU · G` per filter, from the sums [`Winograd::weight_grads`] left in `work`,
    /// into `dw` (`c_out × c_in·9`).
    pub fn filter_grads<T: Float>(&self, work: &Work<T>, dw: &mut [T]) {
        let (c_out, c_in, alpha) = (self.c_out, self.c_in, self.tile.alpha());
        let g = &self.tile.algebra().g;
        assert_eq!(dw.len(), c_out * c_in * 9, "Winograd: filter shape");
        // A block of 16 input channels at a time, each ξ's 16 sums read at once (see
        // `Winograd::filters`: ξ's rows are `c_out·c_in` values apart).
        const BLOCK: usize = 16;
        let mut block = [[0.0f64; BLOCK]; 36];
        for co in 0..c_out {
            for ci0 in (0..c_in).step_by(BLOCK) {
                let cols = BLOCK.min(c_in - ci0);
                for (xi, values) in block.iter_mut().enumerate().take(alpha * alpha) {
                    let src = &work.du[(xi * c_out + co) * c_in + ci0..][..cols];
                    for (v, &d) in values.iter_mut().zip(src) {
                        *v = d.to_f64();
                    }
                }
                for b in 0..cols {
                    // Gᵀ·dU (3 × α), then ·G.
                    let mut rows = [[0.0; 6]; 3];
                    for (i, gi) in g.iter().enumerate().take(alpha) {
                        for j in 0..alpha {
                            let d = block[alpha * i + j][b];
                            for (row, &gik) in rows.iter_mut().zip(gi) {
                                row[j] += gik * d;
                            }
                        }
                    }
                    let f = &mut dw[(co * c_in + ci0 + b) * 9..][..9];
                    for (ky, row) in rows.iter().enumerate() {
                        for kx in 0..3 {
                            let value: f64 = (0..alpha).map(|j| row[j] * g[j][kx]).sum();
                            f[3 * ky + kx] = T::from_f64(value);
                        }
                    }
                }
            }
        }
    }

    /// `V[ξ][t] = (Bᵀ d B)[ξ]` for every input tile `d` of `images` images, each a row of
    /// `c_in` channels: laid out `α² × columns × c_in` in `work.v`, tile (ty, tx) of an image
    /// at row `image·th·tw + ty·tw + tx`.
    fn input_tiles<T: Float>(&self, x: &[T], images: usize, work: &mut Work<T>) {
        // Tile column j of tile tx is pixel tx + j/m of residue j % m, so a residue holds
        // tw + 1 pixels, and the tiles' rows reach 2 past the last one's m.
        let frame = (self.tile.m() * self.th + 2, self.tw + 1);
        let planes = (self.c_in, self.h, self.w, self.pad);
        let Work {
            pixels,
            flat,
            tmp,
            v,
            ..
        } = work;
        let bufs = (pixels, flat, tmp);
        match self.tile {
            Tile::F2 => self.sandwich(x, images, planes, frame, bt2, bufs, v),
            Tile::F4 => self.sandwich(x, images, planes, frame, bt4, bufs, v),
        }
    }

    /// `dY′[ξ][t] = (A·dY·Aᵀ)[ξ]` for every output tile of `images` images, each a row of
    /// `c_out` channels: laid out `α² × columns × c_out` in `work.m`, the tiles numbered as
    /// `Winograd::input_tiles` numbers them.
    fn grad_tiles<T: Float>(&self, g: &[T], images: usize, work: &mut Work<T>) {
        let Work {
            pixels,
            flat,
            tmp,
            m: dy,
            ..
        } = work;
        let planes = (self.c_out, self.oh, self.ow, 0);
        let frame = (self.tile.m() * self.th, self.tw);
        let bufs = (pixels, flat, tmp);
        match self.tile {
            Tile::F2 => self.sandwich(g, images, planes, frame, a2, bufs, dy),
            Tile::F4 => self.sandwich(g, images, planes, frame, a4, bufs, dy),
        }
    }

    /// `C·d·Cᵀ` for every tile `d` of `images` images, the step the input transform (C = Bᵀ,
    /// α × α) and dW's output gradient (C = A, α × m) share, into `out` laid out
    /// `α² × columns × c`. The images are `c` planes of `h × w` with a `border` (`planes`),
    /// laid out by [`interleave`] in a frame of `rows` rows of m residues of `q` pixels
    /// (`frame`); `c_by` applies C to a column of `I` values and gives its `A = α`.
    ///
    /// One row of tiles at a time: C down the tiles' `I` rows is one pass over whole frame
    /// rows (every tile of the row at once), and C across is one pass per row of that result
    /// over the row's `tw` tiles, because in a row split by column residue mod m the next
    /// tile's column j is the next pixel.
    #[allow(clippy::too_many_arguments)]
    fn sandwich<T: Float, const I: usize, const A: usize>(
        &self,
        src: &[T],
        images: usize,
        (c, h, w, border): (usize, usize, usize, usize),
        (rows, q): (usize, usize),
        c_by: impl Fn([T; I]) -> [T; A] + Copy,
        (pixels, flat, tmp): (&mut Vec<T>, &mut Vec<T>, &mut Vec<T>),
        out: &mut Vec<T>,
    ) {
        let (m, tw) = (self.tile.m(), self.tw);
        debug_assert_eq!(A, self.tile.alpha());
        let n = images * self.tiles();
        let row = m * q * c;
        out.resize(self.products() * n * c, T::ZERO);
        tmp.resize(A * row, T::ZERO);
        for (image, planes) in src.chunks_exact(c * h * w).enumerate() {
            interleave(planes, (h, w), c, (m, rows, q), border, (pixels, flat));
            let pixels: &[T] = pixels;
            for ty in 0..self.th {
                let down = std::array::from_fn(|i| &pixels[(m * ty + i) * row..][..row]);
                map_lanes(runs_mut(tmp, 0, row, row), down, c_by);
                let t = image * self.tiles() + ty * tw;
                for k in 0..A {
                    let down = &tmp[k * row..][..row];
                    let across =
                        std::array::from_fn(|j| &down[((j % m) * q + j / m) * c..][..tw * c]);
                    let dst = runs_mut(out, (A * k * n + t) * c, n * c, tw * c);
                    map_lanes(dst, across, c_by);
                }
            }
        }
    }

    /// `out = Aᵀ M A (+ bias)` for every output tile of `images` images, cut at the image's
    /// edge where `oh` or `ow` is not a multiple of m. `M[ξ]` is laid out `columns × c_out`,
    /// so a row of tiles is one run of `tw·c_out` values per ξ, and each step of the
    /// transform one pass over it.
    fn output_tiles<T: Float>(
        &self,
        images: usize,
        bias: Option<&[T]>,
        out: &mut [T],
        work: &mut Work<T>,
    ) {
        match self.tile {
            Tile::F2 => self.output_tiles_by(images, bias, out, work, at2),
            Tile::F4 => self.output_tiles_by(images, bias, out, work, at4),
        }
    }

    /// [`Winograd::output_tiles`] with Aᵀ applied by `at_by` (`A = α` values to `M = m`).
    fn output_tiles_by<T: Float, const A: usize, const M: usize>(
        &self,
        images: usize,
        bias: Option<&[T]>,
        out: &mut [T],
        work: &mut Work<T>,
        at_by: impl Fn([T; A]) -> [T; M] + Copy,
    ) {
        let (c, m, tw) = (self.c_out, M, self.tw);
        debug_assert_eq!(M, self.tile.m());
        let n = images * self.tiles();
        let (oh, ow, run) = (self.oh, self.ow, tw * c);
        work.tmp.resize((A + m) * m * run, T::ZERO);
        let Work {
            tmp, m: mm, flat, ..
        } = work;
        let (tmp, y) = tmp.split_at_mut(A * m * run);
        let zeros = vec![T::ZERO; c];
        let mm: &[T] = mm;
        for (image, out) in out.chunks_exact_mut(c * oh * ow).enumerate() {
            for ty in 0..self.th {
                let t = image * self.tiles() + ty * tw;
                // Aᵀ down each of the α columns of every tile in the row: row a of column j
                // into tmp[α·a + j]...
                for j in 0..A {
                    let down = std::array::from_fn(|i| &mm[((A * i + j) * n + t) * c..][..run]);
                    map_lanes(runs_mut(tmp, j * run, A * run, run), down, at_by);
                }
                // ... then across each of the m rows that gives: y[a][p] holds output pixel
                // (m·ty + a, m·tx + p) of every tile tx, channels innermost.
                for a in 0..m {
                    let rows = &tmp[A * a * run..][..A * run];
                    let across = std::array::from_fn(|j| &rows[j * run..][..run]);
                    map_lanes(runs_mut(y, m * a * run, run, run), across, at_by);
                }
                // Into the output planes, the edges cut: the row of tiles' pixels (runs of
                // c channels, in rows of ow, padded with zero runs to whole groups of 8 for
                // the SIMD transpose) transposed to c rows of them, then each line copied
                // into its plane with the bias.
                let lines = (oh - m * ty).min(m);
                let mut pixels: Vec<&[T]> = (0..lines * ow)
                    .map(|i| {
                        let (a, ox) = (i / ow, i % ow);
                        &y[(m * a + ox % m) * run + (ox / m) * c..][..c]
                    })
                    .collect();
                pixels.resize(pixels.len().next_multiple_of(8), &zeros[..]);
                let width = pixels.len();
                flat.resize(c * width, T::ZERO);
                transpose_rows(&pixels, c, flat);
                for (co, plane) in out.chunks_exact_mut(oh * ow).enumerate() {
                    let b = bias.map_or(T::ZERO, |b| b[co]);
                    let src = &flat[co * width..][..lines * ow];
                    let dst = &mut plane[m * ty * ow..][..lines * ow];
                    for (o, &value) in dst.iter_mut().zip(src) {
                        *o = value + b;
                    }
                }
            }
        }
    }
}

/// One image's `c` planes of `h × w` (NCHW) in a frame of `rows` rows of `m·q` pixels, with
/// the image at (`border`, `border`) and zeros around it, into `pixels`: each row split by
/// column residue mod `m` (pixel x at `(x % m)·q + x / m`), each pixel its `c` values
/// together. The transforms then read a tile's channels as one run, and the same column of
/// the next tile along as the next pixel.
///
/// The channels-innermost order is a transposition of the image (`c` × `h·w` to `h·w` × `c`),
/// done by the GEMM packing's SIMD transpose into `flat` where it applies; value by value, a
/// plane apart, it took twice as long.
fn interleave<T: Float>(
    planes: &[T],
    (h, w): (usize, usize),
    c: usize,
    (m, rows, q): (usize, usize, usize),
    border: usize,
    (pixels, flat): (&mut Vec<T>, &mut Vec<T>),
) {
    // Zeros where the image does not reach: whole rows above and below it, and the pixels
    // left and right of it in its rows (everything else is overwritten below).
    let line = m * q * c;
    pixels.resize(rows * line, T::ZERO);
    pixels[..border * line].fill(T::ZERO);
    pixels[(border + h) * line..].fill(T::ZERO);
    for y in border..border + h {
        for px in (0..border).chain(border + w..m * q) {
            pixels[(y * m * q + (px % m) * q + px / m) * c..][..c].fill(T::ZERO);
        }
    }
    flat.resize(h * w * c, T::ZERO);
    let channels: Vec<&[T]> = planes.chunks_exact(h * w).collect();
    transpose_rows(&channels, h * w, flat);
    for y in 0..h {
        let row = (border + y) * m * q;
        for x in 0..w {
            let px = border + x;
            let dst = &mut pixels[(row + (px % m) * q + px / m) * c..][..c];
            dst.copy_from_slice(&flat[(y * w + x) * c..][..c]);
        }
    }
}

/// `out[p·W + i] = rows[i][p]` for `p < k`, `i < W = rows.len()`: the GEMM packing's SIMD
/// transpose where the type and CPU have it, value by value otherwise. The layout changes on
/// either side of the transforms (NCHW to channels innermost and back) are this.
fn transpose_rows<T: Float>(rows: &[&[T]], k: usize, out: &mut [T]) {
    if !T::pack_rows_simd(rows, k, out) {
        for (p, group) in out.chunks_exact_mut(rows.len()).take(k).enumerate() {
            for (d, row) in group.iter_mut().zip(rows) {
                *d = row[p];
            }
        }
    }
}

/// One thread's buffers for [`Winograd::run`] and the GEMM context of its products. The
/// products run on the packed loops of one thread (`threaded` with one thread: the microkernel
/// the CPU's best, picked by shape), whatever their size, so a value never depends on how many
/// images shared its chunk.
#[derive(Debug)]
pub struct Work<T> {
    gemm: Gemm<T>,
    /// One image, pixel by pixel (see `interleave`), and its transposition.
    pixels: Vec<T>,
    flat: Vec<T>,
    /// One tile half transformed.
    tmp: Vec<T>,
    v: Vec<T>,
    m: Vec<T>,
    /// The weight gradient's α² sums, `α² × c_out × c_in`.
    du: Vec<T>,
}

impl<T: Float> Default for Work<T> {
    fn default() -> Self {
        Work {
            gemm: Gemm::with_threads(Kernel::Threaded, 1),
            pixels: Vec::new(),
            flat: Vec::new(),
            tmp: Vec::new(),
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

    /// Every geometry with both tiles.
    fn both<G: Copy>(geometry: G) -> [(G, Tile); 2] {
        [(geometry, Tile::F2), (geometry, Tile::F4)]
    }

    /// How many roundings per unit of magnitude a tile's transforms may add, in the bounds
    /// below: F(4×4)'s entries reach 8 (Aᵀ) and 5 (Bᵀ), and its G has sixths, so its
    /// transformed values are larger than the sums they make and round that much more.
    /// Measured on these values: F(2×2)'s worst error is 0.7 % of its bound, F(4×4)'s about
    /// ten times F(2×2)'s, 0.7 % of its own.
    fn ulps(tile: Tile) -> f64 {
        match tile {
            Tile::F2 => 10.0,
            Tile::F4 => 100.0,
        }
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
        for ((c_in, c_out, h, w, pad), tile) in GEOMETRIES.into_iter().chain(more).flat_map(both) {
            let base = Winograd::new(tile, c_in, c_out, h, w, pad).unwrap();
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
                        let bound = ulps(tile) * 1e-15 * (c_in * 9) as f64;
                        assert!(
                            (got - want).abs() <= bound,
                            "{tile:?} {c_in}→{c_out} {h}×{w} pad {pad}, {images} images by \
                             {chunk}: [{i}] {got} vs {want}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn weight_grads_are_the_correlation_of_input_and_output_gradient() {
        for ((c_in, c_out, h, w, pad), tile) in GEOMETRIES.into_iter().flat_map(both) {
            let base = Winograd::new(tile, c_in, c_out, h, w, pad).unwrap();
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
                    let bound = ulps(tile) * 1e-14 * (images * oh * ow) as f64;
                    for (i, (&got, &want)) in dw.iter().zip(&want).enumerate() {
                        assert!(
                            (got - want).abs() <= bound,
                            "{tile:?} {c_in}→{c_out} {h}×{w} pad {pad}, {images} images by \
                             {chunk}: dW[{i}] {got} vs {want}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn f32_stays_within_a_few_ulp_of_the_f64_sum() {
        // Σ|w·x| ≤ 144 below; f32's ε is 1.2e-7, and the inputs were rounded to f32 too.
        // Measured: 0.1 ε·144 for F(2×2), 1.5 for F(4×4).
        for (tile, ulps) in [(Tile::F2, 4.0), (Tile::F4, 24.0)] {
            let wg = Winograd::new(tile, 16, 8, 10, 10, 1).unwrap();
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
            let worst = out
                .iter()
                .zip(&want)
                .map(|(&got, &want)| (got as f64 - want).abs() / (144.0 * 1.2e-7))
                .fold(0.0, f64::max);
            assert!(worst <= ulps, "{tile:?}: {worst} ε·144 off");
        }
    }

    #[test]
    fn filters_transform_is_g_g_gt() {
        // A filter with a single 1 at (ky, kx) transforms to the outer product of G's columns.
        for tile in [Tile::F2, Tile::F4] {
            let (g, alpha) = (&tile.algebra().g, tile.alpha());
            let wg = Winograd::new(tile, 1, 1, 6, 6, 0).unwrap();
            for tap in 0..9 {
                let mut w = [0.0f64; 9];
                w[tap] = 1.0;
                let mut u = Vec::new();
                wg.filters(&w, &mut u);
                for i in 0..alpha {
                    for j in 0..alpha {
                        assert_eq!(
                            u[alpha * i + j],
                            g[i][tap / 3] * g[j][tap % 3],
                            "{tile:?} tap {tap} ({i},{j})"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn the_algebra_is_the_correlation_in_one_dimension() {
        // Aᵀ [(G g) ⊙ (Bᵀ d)] = (Σ_k d[i + k]·g[k])_i for m outputs, exactly on small integers.
        for tile in [Tile::F2, Tile::F4] {
            let (alg, alpha) = (tile.algebra(), tile.alpha());
            let d: Vec<f64> = (0..alpha).map(|i| (i as f64 * 3.0 - 7.0) % 5.0).collect();
            let g = [2.0, -3.0, 5.0];
            let gg: Vec<f64> = (0..alpha)
                .map(|i| (0..3).map(|k| alg.g[i][k] * g[k]).sum())
                .collect();
            let bd: Vec<f64> = (0..alpha)
                .map(|i| (0..alpha).map(|k| alg.bt[i][k] * d[k]).sum())
                .collect();
            for i in 0..alg.m {
                let y: f64 = (0..alpha).map(|k| alg.at[i][k] * gg[k] * bd[k]).sum();
                let want: f64 = (0..3).map(|k| d[i + k] * g[k]).sum();
                assert!(
                    (y - want).abs() < 1e-12,
                    "{tile:?} y[{i}] = {y}, want {want}"
                );
            }
        }
    }

    #[test]
    fn factored_transforms_are_the_matrices() {
        // Each factored form against its matrix, exactly: on small integers every operation
        // of either is exact in f64. Every unit vector, then a spread of values.
        fn check<const I: usize, const O: usize>(
            name: &str,
            f: fn([f64; I]) -> [f64; O],
            entry: impl Fn(usize, usize) -> f64,
        ) {
            let inputs = (0..I)
                .map(|u| std::array::from_fn(|i| if i == u { 1.0 } else { 0.0 }))
                .chain(
                    (0..20).map(|s| std::array::from_fn(|i| ((i * 7 + s * 13) % 19) as f64 - 9.0)),
                );
            for x in inputs {
                let want: [f64; O] =
                    std::array::from_fn(|o| (0..I).map(|i| entry(o, i) * x[i]).sum());
                assert_eq!(f(x), want, "{name} of {x:?}");
            }
        }
        let (f2, f4) = (Tile::F2.algebra(), Tile::F4.algebra());
        check("F2 Bᵀ", bt2, |o, i| f2.bt[o][i]);
        check("F2 A", a2, |o, i| f2.at[i][o]);
        check("F2 Aᵀ", at2, |o, i| f2.at[o][i]);
        check("F4 Bᵀ", bt4, |o, i| f4.bt[o][i]);
        check("F4 A", a4, |o, i| f4.at[i][o]);
        check("F4 Aᵀ", at4, |o, i| f4.at[o][i]);
    }

    #[test]
    fn paddings_past_two_and_empty_outputs_are_refused() {
        for tile in [Tile::F2, Tile::F4] {
            assert!(Winograd::new(tile, 1, 1, 4, 4, 3).is_none());
            assert!(Winograd::new(tile, 1, 1, 2, 2, 0).is_none());
            assert!(Winograd::new(tile, 0, 1, 4, 4, 1).is_none());
            assert!(Winograd::new(tile, 1, 1, 1, 1, 1).is_some());
        }
    }
}
