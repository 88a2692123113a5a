//! Convolution (`nn.Conv2d`) as the book's chapter 7 builds it: im2col, then one GEMM.

use std::sync::OnceLock;

use super::im2col::{Window, col2im, im2col};
use super::shifted::{self, Shifted};
use super::winograd::{self, Winograd};
use super::{Layer, Mode, Param, visit_weight_and_bias};
use crate::matrix::gemm::{Gemm, Kernel, Lines};
use crate::matrix::{Float, MatMut, MatRef, Matrix};

/// `c_out` filters of `c_in`×`kh`×`kw` over `h`×`w` images, with stride and zero padding.
///
/// Rows of the layer's input and output are images in NCHW order. For each image n:
///
/// ```text
///   forward   col   = im2col(x[n])                  c_in·kh·kw × oh·ow
///             out[n] = W · col  (+ b per channel)   c_out × oh·ow: the output row itself
///   backward  dW   += dout[n] · colᵀ                (GEMM, k = oh·ow)
///             db   += Σ dout[n][co][·]
///             dx[n] = col2im(Wᵀ · dout[n])          (GEMM, then scatter-add)
/// ```
///
/// That is the layer for any stride and padding. For stride 1 (every layer of the book's two
/// networks) it runs the same products without storing `col`: the shifted lowering of
/// [`Shifted`] hands the GEMM the padded image's rows at `c_in·kh·kw` offsets, and computes dx
/// as the transposed convolution (flipped filters, one product of depth `c_out·kh·kw` that
/// writes dx itself), so neither `col`, `dcol` nor col2im exists there (single-channel layers
/// keep im2col where it is cheaper: [`Shifted::new`]). DeepConvNet's step: 138 → 103 ms on the
/// Zen 4 VM (docs/cnn.md).
///
/// 3×3 stride-1 layers with 16 channels or more go further: their forward pass, dW and dx
/// run in the Winograd domain ([`Winograd`]): F(4×4, 3×3) where 4 divides the output's
/// sides (36 multiply-adds per 4×4 output tile and channel pair where the direct products do
/// 144), F(2×2, 3×3) elsewhere (16 against 36). DeepConvNet's step on the Zen 3 VM: about
/// 91–95 → 65–69 ms per step in alternated runs, 56–57 with the transforms factored
/// (docs/cnn.md).
///
/// `W` is PyTorch's `[out, in, kh, kw]` weight viewed as `c_out × c_in·kh·kw`, so checkpoints
/// store it as it is. One image at a time, because the product's rows (`c_out` × `oh·ow`) are
/// then exactly the image's output row in NCHW order — no transposition — and the im2col
/// buffer (57 KiB for SimpleConvNet's 25 × 576) stays in L1/L2 between im2col and the GEMM
/// that reads it. Batching the images into one wide product was measured first: its 6 MiB
/// `col` and product went through L3 three times, and the conv layer took 5.2 ms per
/// SimpleConvNet step against 4.2 ms this way (docs/cnn.md).
///
/// **Two threads.** A product per image is too small to split (16 × 144 × 784 in DeepConvNet),
/// but a batch's worth is milliseconds of work, so with `threads` ≥ 2 the layer splits the
/// batch instead, on a scoped thread (its start-up, tens of µs, is noise there): forward, each
/// thread takes half the images; backward, one thread sums dW and db over all the images in
/// image order while the other computes every image's dx. Every sum runs in the same order as
/// on one thread, so results are bit-identical for any `--threads`.
#[derive(Debug)]
pub struct Conv2d<T> {
    /// The input and window geometry.
    pub win: Window,
    /// Output channels (filters).
    pub c_out: usize,
    /// Filters, c_out × (c_in·kh·kw): one filter per row, as PyTorch's weight flattened.
    pub w: Matrix<T>,
    /// Bias, 1 × c_out.
    pub b: Matrix<T>,
    /// ∂L/∂W of the last backward pass.
    pub dw: Matrix<T>,
    /// ∂L/∂b of the last backward pass.
    pub db: Matrix<T>,
    /// The stride-1 lowering without an im2col copy, where it applies (see [`Shifted`]).
    shifted: Option<Shifted>,
    /// Its flipped filters for the input gradient, rebuilt from `w` by every backward pass,
    /// and for the forward product `w` with zero rows up to whole row tiles, rebuilt by every
    /// forward pass ([`shifted::tall_rows`]).
    w_flip: Matrix<T>,
    w_tall: Matrix<T>,
    /// Winograd F(m×m, 3×3) for a 3×3 stride-1 layer: the plan of its forward pass and weight
    /// gradient, and that of its input gradient, each where its products are deep enough
    /// ([`WINOGRAD_MIN_DEPTH`]), with the filters transformed for the forward pass (`u`) and
    /// for dx (`u_flip`), rebuilt from `w` by every pass.
    wino: Option<Winograd>,
    wino_dx: Option<Winograd>,
    u: Vec<T>,
    u_flip: Vec<T>,
    /// The calling thread's GEMM context and buffers.
    main: Lane<T>,
    /// The second thread's, when the layer may use two.
    helper: Option<Lane<T>>,
    /// When a batch is split over the two: at least this much work and this depth (see
    /// [`SPLIT_MIN_MACS`] and [`SPLIT_MIN_DEPTH`]).
    split_min: (usize, usize),
}

/// A Winograd plan and the filters transformed for it, where a pass runs in that domain.
type Wino<'a, T> = Option<(&'a Winograd, &'a [T])>;

/// One thread's share of a conv layer's work: its GEMM context and its buffers (im2col's, or
/// the shifted lowering's padded planes and wide product).
#[derive(Debug)]
struct Lane<T> {
    gemm: Gemm<T>,
    col: Vec<T>,
    dcol: Vec<T>,
    pad: Vec<T>,
    wide: Vec<T>,
    wino: winograd::Work<T>,
}

impl<T: Float> Lane<T> {
    fn new(threads: usize) -> Self {
        Lane {
            gemm: Gemm::with_threads(Kernel::Auto, threads),
            col: Vec::new(),
            dcol: Vec::new(),
            pad: Vec::new(),
            wide: Vec::new(),
            wino: winograd::Work::default(),
        }
    }

    /// Fills `col` with the im2col matrix of one image.
    fn fill_col(&mut self, win: &Window, image: &[T]) {
        self.col.resize(win.col_rows() * win.positions(), T::ZERO);
        im2col(image, 1, win, &mut self.col);
    }

    /// `out[n] = W·im2col(x[n]) + b` for the images in `x` (rows of `win.image_len()`), into
    /// the matching rows of `out`: in the Winograd domain where `wino` (the plan and its
    /// transformed filters) is given, else through the shifted lowering where there is one,
    /// else through the stored im2col matrix.
    fn forward(
        &mut self,
        (win, shifted): (&Window, Option<&Shifted>),
        (w, w_tall, wino): (&Matrix<T>, &Matrix<T>, Wino<'_, T>),
        b: &[T],
        x: &[T],
        out: &mut [T],
    ) {
        if let Some((wg, u)) = wino {
            wg.run(u, x, Some(b), out, &mut self.wino);
            return;
        }
        let (p, ckk, c_out) = (win.positions(), win.col_rows(), w.rows());
        let out_len = c_out * p;
        for (image, row) in x
            .chunks_exact(win.image_len())
            .zip(out.chunks_exact_mut(out_len))
        {
            if let Some(s) = shifted.filter(|s| s.for_forward) {
                let Lane {
                    gemm, pad, wide, ..
                } = self;
                let xp = s.padded_input(image, pad);
                let lines = Lines::rows(xp, &s.offsets, s.wide).expect("offsets inside the image");
                // The filters with zero rows up to whole row tiles ([`shifted::tall_rows`]).
                let rows = w_tall.rows();
                wide.resize(rows * s.wide, T::ZERO);
                let prod = MatMut::new(wide, rows, s.wide, s.wide, 1).expect("wide shape");
                gemm.run_lines(T::ONE, w_tall.view(), &lines, T::ZERO, prod)
                    .expect("Conv2d: shapes checked at build");
                s.narrow_output(wide, b, row);
                continue;
            }
            self.fill_col(win, image);
            let col = MatRef::new(&self.col, ckk, p, p, 1).expect("col shape");
            let prod = MatMut::new(row, c_out, p, p, 1).expect("output row shape");
            self.gemm
                .run(T::ONE, w.view(), col, T::ZERO, prod)
                .expect("Conv2d: shapes checked at build");
            for (channel, &bias) in row.chunks_exact_mut(p).zip(b) {
                channel.iter_mut().for_each(|v| *v += bias);
            }
        }
    }

    /// dW and db summed over the images of `xs` (the layer's inputs) and `gs` (their output
    /// gradients), in image order, added to `dw` and `db` — or, in the Winograd domain where
    /// `wino` is given, to the plan's sums in this lane's work (written there when `first`),
    /// which [`Winograd::filter_grads`] turns into dW once every image is in.
    #[allow(clippy::too_many_arguments)]
    fn weight_grads(
        &mut self,
        geo: (&Window, Option<&Shifted>),
        wino: Option<&Winograd>,
        (xs, gs): (&[T], &[T]),
        first: bool,
        dw: &mut Matrix<T>,
        db: &mut [T],
    ) {
        let (img, p) = (geo.0.image_len(), geo.0.positions());
        let out_len = dw.rows() * p;
        for (image, g) in xs.chunks_exact(img).zip(gs.chunks_exact(out_len)) {
            for (db, channel) in db.iter_mut().zip(g.chunks_exact(p)) {
                *db += lane_sum(channel);
            }
            if wino.is_none() {
                self.image_weight_grads(geo, image, g, dw);
            }
        }
        if let Some(wg) = wino {
            wg.weight_grads(xs, gs, first, &mut self.wino);
        }
    }

    /// dW and db over every chunk of (inputs, output gradients), in order.
    fn all_weight_grads<'a>(
        &mut self,
        geo: (&Window, Option<&Shifted>),
        wino: Option<&Winograd>,
        chunks: impl Iterator<Item = (&'a [T], &'a [T])>,
        dw: &mut Matrix<T>,
        db: &mut [T],
    ) where
        T: 'a,
    {
        for (k, xg) in chunks.enumerate() {
            self.weight_grads(geo, wino, xg, k == 0, dw, db);
        }
        if let Some(wg) = wino {
            wg.filter_grads(&self.wino, dw.as_mut_slice());
        }
    }

    /// dW += dout[n]·im2col(x[n])ᵀ for one image.
    fn image_weight_grads(
        &mut self,
        (win, shifted): (&Window, Option<&Shifted>),
        image: &[T],
        g: &[T],
        dw: &mut Matrix<T>,
    ) {
        let (p, ckk) = (win.positions(), win.col_rows());
        if let Some(s) = shifted.filter(|s| s.for_weights) {
            // The gradient laid out wide (zeros where no output is) times the image's lines
            // as columns: k runs over the wide positions.
            let Lane {
                gemm, pad, wide, ..
            } = self;
            s.widen_grad(g, wide);
            let xp = s.padded_input(image, pad);
            let lines = Lines::cols(xp, &s.offsets, s.wide).expect("offsets inside the image");
            let dprod = MatRef::new(wide, dw.rows(), s.wide, s.wide, 1).expect("wide shape");
            gemm.run_lines(T::ONE, dprod, &lines, T::ONE, dw.view_mut())
                .expect("Conv2d: dW shape");
            return;
        }
        self.fill_col(win, image);
        let dprod = MatRef::new(g, dw.rows(), p, p, 1).expect("dout row shape");
        let col = MatRef::new(&self.col, ckk, p, p, 1).expect("col shape");
        self.gemm
            .run(T::ONE, dprod, col.t(), T::ONE, dw.view_mut())
            .expect("Conv2d: dW shape");
    }

    /// dx for the images whose output gradients are `gs`, into the rows of `dxs`: the
    /// transposed convolution in the Winograd domain where `wino` (the plan and the flipped
    /// filters transformed) is given, else image by image.
    fn input_grads(
        &mut self,
        geo: (&Window, Option<&Shifted>),
        (w, w_flip, wino): (&Matrix<T>, &Matrix<T>, Wino<'_, T>),
        gs: &[T],
        dxs: &mut [T],
    ) {
        if let Some((wg, u_flip)) = wino {
            wg.run(u_flip, gs, None, dxs, &mut self.wino);
            return;
        }
        let out_len = w.rows() * geo.0.positions();
        for (g, dx) in gs
            .chunks_exact(out_len)
            .zip(dxs.chunks_exact_mut(geo.0.image_len()))
        {
            self.image_input_grads(geo, w, w_flip, g, dx);
        }
    }

    /// dx[n] for one image: the transposed convolution with the flipped filters `w_flip`
    /// where the layer is shifted, else col2im(Wᵀ·dout[n]).
    fn image_input_grads(
        &mut self,
        (win, shifted): (&Window, Option<&Shifted>),
        w: &Matrix<T>,
        w_flip: &Matrix<T>,
        g: &[T],
        dx: &mut [T],
    ) {
        if let Some(s) = shifted {
            let Lane {
                gemm, pad, wide, ..
            } = self;
            let gp = s.padded_grad(g, pad);
            let lines =
                Lines::rows(gp, &s.grad_offsets, s.grad_wide).expect("offsets inside the grad");
            // `w_flip` has zero rows up to whole row tiles, as the forward pass's filters.
            let rows = w_flip.rows();
            wide.resize(rows * s.grad_wide, T::ZERO);
            let prod = MatMut::new(wide, rows, s.grad_wide, s.grad_wide, 1).expect("dx shape");
            gemm.run_lines(T::ONE, w_flip.view(), &lines, T::ZERO, prod)
                .expect("Conv2d: dx shape");
            s.narrow_grad(wide, dx);
            return;
        }
        let (p, ckk) = (win.positions(), win.col_rows());
        self.dcol.resize(ckk * p, T::ZERO);
        let dprod = MatRef::new(g, w.rows(), p, p, 1).expect("dout row shape");
        let dcol = MatMut::new(&mut self.dcol, ckk, p, p, 1).expect("dcol shape");
        self.gemm
            .run(T::ONE, w.t(), dprod, T::ZERO, dcol)
            .expect("Conv2d: dcol shape");
        col2im(&self.dcol, 1, win, dx);
    }
}

/// The least work (multiply-adds of one forward pass over the batch) for which the layer
/// splits a batch over two threads: 16 M, about 0.15 ms of arithmetic, against 12–60 µs to
/// start and join a scoped thread.
pub const SPLIT_MIN_MACS: usize = 16 << 20;

/// The least `c_in·kh·kw` (multiply-adds per output value) for which a split pays. Below it
/// the layer writes more than it computes, and the second thread's half of the output must
/// then travel to the core that reads it next: SimpleConvNet's first layer (25 per output)
/// took 1.8 ms per step on two threads against 1.3 on one, while DeepConvNet's layers
/// (144–576) run 1.7–1.9× faster.
pub const SPLIT_MIN_DEPTH: usize = 64;

impl<T: Float> Conv2d<T> {
    /// A layer over `win` (input geometry and kernel) with `w` (`c_out` × `c_in·kh·kw`) and a
    /// zero bias, using up to `threads` threads (two at most: see the type's doc). The window
    /// must have an output (checked by the network builder).
    pub fn new(win: Window, w: Matrix<T>, threads: usize) -> Self {
        let c_out = w.rows();
        assert_eq!(w.cols(), win.col_rows(), "Conv2d: weight shape");
        let shifted = Shifted::new(&win, c_out);
        let [wino, wino_dx] = winograd_plans(&win, c_out, shifted.is_some(), winograd_use());
        Conv2d {
            win,
            c_out,
            w,
            b: Matrix::zeros(1, c_out),
            dw: Matrix::zeros(c_out, win.col_rows()),
            db: Matrix::zeros(1, c_out),
            shifted,
            w_flip: Matrix::zeros(0, 0),
            w_tall: Matrix::zeros(0, 0),
            wino,
            wino_dx,
            u: Vec::new(),
            u_flip: Vec::new(),
            main: Lane::new(threads),
            helper: (threads >= 2).then(|| Lane::new(1)),
            split_min: (SPLIT_MIN_MACS, SPLIT_MIN_DEPTH),
        }
    }

    /// This layer splitting batches of at least `macs` multiply-adds whose products have at
    /// least `depth` = `c_in·kh·kw` (tests lower both to drive the two-thread path on small
    /// images); results do not depend on them, only speed does.
    pub fn with_split_limits(self, macs: usize, depth: usize) -> Self {
        Conv2d {
            split_min: (macs, depth),
            ..self
        }
    }

    /// This layer running in the Winograd domain from depth `depth` on (instead of
    /// [`WINOGRAD_MIN_DEPTH`]), with `chunk` images per chunk where `chunk` is given (tests use
    /// both to drive Winograd on few channels and across chunk boundaries). Both tiles as
    /// [`winograd::Tile::for_output`] picks them, whatever [`WINOGRAD_ENV`] says, so the tests
    /// that force Winograd run the same code in every environment.
    pub fn with_winograd_from(self, depth: usize, chunk: Option<usize>) -> Self {
        let wanted = WinogradUse { depth, f4: true };
        let plans = winograd_plans(&self.win, self.c_out, self.shifted.is_some(), wanted);
        let [wino, wino_dx] = plans.map(|p| match chunk {
            Some(images) => p.map(|p| p.with_chunk(images)),
            None => p,
        });
        Conv2d {
            wino,
            wino_dx,
            ..self
        }
    }

    /// Output positions per channel.
    pub fn positions(&self) -> usize {
        self.win.positions()
    }

    /// Whether a batch of `n` images is worth two threads.
    fn split(&self, n: usize) -> bool {
        let macs = n
            .saturating_mul(self.c_out)
            .saturating_mul(self.win.col_rows())
            .saturating_mul(self.positions());
        self.helper.is_some()
            && n >= 2
            && macs >= self.split_min.0
            && self.win.col_rows() >= self.split_min.1
    }
}

/// The least depth (input channels of the product: `c_in` for the forward pass and dW,
/// `c_out` for dx) from which a 3×3 stride-1 layer runs in the Winograd domain. Below it the
/// transforms move more values than the products multiply. Measured per step of 100 images on
/// the Zen 3 VM (`train --net deep-cnn --profile`, alternated runs): with the transforms
/// running channels innermost, DeepConvNet's 16 → 16 layer took 6.1–6.5 + 12.9–13.4 ms
/// (forward + backward) in the Winograd domain against 6.9–7.0 + 14.4–15.4 on the shifted
/// lowering, and the whole step 65–68 ms against 71–74; with the earlier per-plane transforms
/// depth 16 had been slower (8.0 against 7.2–7.6 ms forward), and the threshold 32.
pub const WINOGRAD_MIN_DEPTH: usize = 16;

/// The environment variable that chooses how much of the Winograd domain runs: `0` runs
/// every conv layer on its direct lowering (shifted or im2col), which sums the products a
/// direct convolution sums — slower, but the way to compare a run step by step with another
/// framework: the Winograd transforms give tiny residues (about ε times the tile's values)
/// where a direct convolution gives exactly zero, and at a ReLU that is the difference between
/// passing a gradient and not (see docs/cnn.md, "The same function as PyTorch"). `2` keeps
/// the Winograd domain but only F(2×2) tiles, whose transforms round about ten times less than
/// F(4×4)'s (`winograd` module's tests): for measuring what F(4×4)'s rounding does to
/// training. Any other value, or none, is the default.
pub const WINOGRAD_ENV: &str = "SCRATCHNET_WINOGRAD";

/// Where the Winograd domain runs: from which depth, and whether F(4×4) tiles may be used.
#[derive(Clone, Copy, Debug)]
struct WinogradUse {
    depth: usize,
    f4: bool,
}

impl WinogradUse {
    /// What a value of [`WINOGRAD_ENV`] asks for (`None`: unset).
    fn from_env(value: Option<&str>) -> Self {
        let default = WinogradUse {
            depth: WINOGRAD_MIN_DEPTH,
            f4: true,
        };
        match value {
            Some("0") => WinogradUse {
                depth: usize::MAX,
                ..default
            },
            Some("2") => WinogradUse {
                f4: false,
                ..default
            },
            _ => default,
        }
    }
}

/// What [`WINOGRAD_ENV`] asks for, read once.
fn winograd_use() -> WinogradUse {
    static USE: OnceLock<WinogradUse> = OnceLock::new();
    *USE.get_or_init(|| WinogradUse::from_env(std::env::var(WINOGRAD_ENV).ok().as_deref()))
}

/// The Winograd plans of a layer, where it is 3×3 with stride 1 and `shifted` (the layer has a
/// shifted lowering, so its padding is at most 2 and dx, the transposed convolution with the
/// flipped filters, has one): the forward pass's, which dW shares, where `c_in` ≥ `depth`, and
/// dx's where `c_out` ≥ `depth`; F(2×2) tiles only unless `f4`.
fn winograd_plans(
    win: &Window,
    c_out: usize,
    shifted: bool,
    WinogradUse { depth, f4 }: WinogradUse,
) -> [Option<Winograd>; 2] {
    let three = (win.kh, win.kw, win.stride) == (3, 3, 1) && shifted;
    let (oh, ow) = (win.out_h().unwrap_or(0), win.out_w().unwrap_or(0));
    let plan = |on: bool, c_in, c_out, h, w, pad: usize| {
        let out = |side: usize| (side + 2 * pad).saturating_sub(2);
        let tile = match winograd::Tile::for_output(out(h), out(w)) {
            winograd::Tile::F4 if !f4 => winograd::Tile::F2,
            tile => tile,
        };
        (three && on)
            .then(|| Winograd::new(tile, c_in, c_out, h, w, pad))
            .flatten()
    };
    [
        plan(win.c >= depth, win.c, c_out, win.h, win.w, win.pad),
        plan(
            c_out >= depth,
            c_out,
            win.c,
            oh,
            ow,
            2usize.saturating_sub(win.pad),
        ),
    ]
}

/// The sum of `values` in [`LANES`] interleaved partial sums, added pairwise at the end. A
/// single running sum is a chain of dependent additions (4 cycles each) that cannot be
/// vectorised: over SimpleConvNet's 30 × 576 gradients per image it took 1.1 ms of a step,
/// more than the layer's dW product. The order is fixed, so every run and thread count gives
/// the same bits.
fn lane_sum<T: Float>(values: &[T]) -> T {
    let mut acc = [T::ZERO; LANES];
    let mut chunks = values.chunks_exact(LANES);
    for chunk in &mut chunks {
        for (a, &v) in acc.iter_mut().zip(chunk) {
            *a += v;
        }
    }
    for (a, &v) in acc.iter_mut().zip(chunks.remainder()) {
        *a += v;
    }
    let mut width = LANES;
    while width > 1 {
        width /= 2;
        let (low, high) = acc.split_at_mut(width);
        for (a, &b) in low.iter_mut().zip(high.iter()) {
            *a += b;
        }
    }
    acc[0]
}

/// Partial sums in [`lane_sum`]: one AVX-512 register of f32 (64 lanes measured no faster).
const LANES: usize = 16;

impl<T: Float> Layer<T> for Conv2d<T> {
    fn forward(&mut self, x: &Matrix<T>, out: &mut Matrix<T>, _mode: Mode) {
        // x: N × c_in·h·w → out: N × c_out·oh·ow.
        let n = x.rows();
        let out_len = self.c_out * self.positions();
        out.ensure_shape(n, out_len);
        let split = self.split(n);
        let Conv2d {
            win,
            w,
            b,
            shifted,
            wino,
            u,
            w_tall,
            main,
            helper,
            ..
        } = self;
        if let Some(wg) = wino {
            wg.filters(w.as_slice(), u);
        }
        let w_tall = match shifted.as_ref().filter(|s| s.for_forward && wino.is_none()) {
            Some(s) => {
                shifted::pad_rows(w, shifted::tall_rows::<T>(w.rows(), s.wide), w_tall);
                &*w_tall
            }
            None => &*w,
        };
        let w = (&*w, w_tall, wino.as_ref().map(|wg| (wg, u.as_slice())));
        let geo = (&*win, shifted.as_ref());
        let (x, out, b) = (x.as_slice(), out.as_mut_slice(), b.as_slice());
        match helper {
            Some(helper) if split => {
                // The first half of the images on a scoped thread, the rest here.
                let half = n / 2;
                let (x_top, x_rest) = x.split_at(half * win.image_len());
                let (out_top, out_rest) = out.split_at_mut(half * out_len);
                std::thread::scope(|scope| {
                    scope.spawn(|| helper.forward(geo, w, b, x_top, out_top));
                    main.forward(geo, w, b, x_rest, out_rest);
                });
            }
            _ => main.forward(geo, w, b, x, out),
        }
    }

    fn backward(
        &mut self,
        x: &Matrix<T>,
        _out: &Matrix<T>,
        dout: &Matrix<T>,
        dx: Option<&mut Matrix<T>>,
    ) {
        let n = x.rows();
        let split = self.split(n);
        let Conv2d {
            win,
            w,
            dw,
            db,
            shifted,
            w_flip,
            wino,
            wino_dx,
            u_flip,
            main,
            helper,
            ..
        } = self;
        let geo = (&*win, shifted.as_ref());
        let wino_dw = wino.as_ref();
        let (img, out_len) = (win.image_len(), w.rows() * win.positions());
        // dW sums over the images chunk by chunk (one image at a time off Winograd); the
        // chunks are the plan's, whichever thread sums them, so the bits are too.
        let chunk = wino_dw.map_or(1, Winograd::chunk);
        let chunks = x
            .as_slice()
            .chunks(chunk * img)
            .zip(dout.as_slice().chunks(chunk * out_len));
        let db = db.as_mut_slice();
        db.fill(T::ZERO);
        dw.as_mut_slice().fill(T::ZERO);
        let Some(dx) = dx else {
            // The first layer: its input is data, only the weights need gradients.
            main.all_weight_grads(geo, wino_dw, chunks, dw, db);
            return;
        };
        if let Some(s) = geo.1 {
            // Zero rows up to whole row tiles for the shifted product; the Winograd plan
            // transforms exactly c_in × c_out·9 filters.
            let rows = match wino_dx {
                Some(_) => win.c,
                None => shifted::tall_rows::<T>(win.c, s.grad_wide),
            };
            s.flip_filters(w, rows, w_flip);
        }
        if let Some(wg) = wino_dx {
            wg.filters(w_flip.as_slice(), u_flip);
        }
        let wd = (
            &*w,
            &*w_flip,
            wino_dx.as_ref().map(|wg| (wg, u_flip.as_slice())),
        );
        dx.ensure_shape(n, img);
        let dx = dx.as_mut_slice();
        match helper {
            Some(helper) if split => {
                // dW and db (sums over the images, in image order) on a scoped thread; dx
                // (independent per image) here.
                std::thread::scope(|scope| {
                    scope.spawn(|| helper.all_weight_grads(geo, wino_dw, chunks, dw, db));
                    main.input_grads(geo, wd, dout.as_slice(), dx);
                });
            }
            _ => {
                // A chunk at a time, so each image's gradient is read while it is in cache.
                for (k, (xg, dxs)) in chunks.zip(dx.chunks_mut(chunk * img)).enumerate() {
                    main.weight_grads(geo, wino_dw, xg, k == 0, dw, db);
                    main.input_grads(geo, wd, xg.1, dxs);
                }
                if let Some(wg) = wino_dw {
                    wg.filter_grads(&main.wino, dw.as_mut_slice());
                }
            }
        }
    }

    fn visit_params(&mut self, f: &mut dyn FnMut(Param<'_, T>)) {
        visit_weight_and_bias(&mut self.w, &mut self.dw, &mut self.b, &mut self.db, f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use winograd::Tile;

    #[test]
    fn the_winograd_variable_turns_the_domain_off_or_keeps_to_f2_tiles() {
        // 16 → 8 channels on 12×12 with padding 1: a 12×12 output, where 4 divides both
        // sides, so F(4×4) unless told otherwise; dx (depth 8) stays on the shifted lowering.
        let win = Window {
            c: 16,
            h: 12,
            w: 12,
            kh: 3,
            kw: 3,
            stride: 1,
            pad: 1,
        };
        let tiles = |value: Option<&str>| {
            winograd_plans(&win, 8, true, WinogradUse::from_env(value)).map(|p| p.map(|p| p.tile()))
        };
        assert_eq!(tiles(None), [Some(Tile::F4), None]);
        assert_eq!(tiles(Some("1")), [Some(Tile::F4), None]);
        assert_eq!(tiles(Some("")), [Some(Tile::F4), None]);
        assert_eq!(tiles(Some("2")), [Some(Tile::F2), None]);
        assert_eq!(tiles(Some("0")), [None, None]);
    }
}
