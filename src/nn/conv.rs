//! Convolution (`nn.Conv2d`) as the book's chapter 7 builds it: im2col, then one GEMM.

use super::im2col::{Window, col2im, im2col};
use super::{Layer, Mode, Param};
use crate::matrix::gemm::{Gemm, Kernel};
use crate::matrix::{Float, MatMut, MatRef, Matrix};

/// The most values one im2col block may hold (4 Mi: 16 MiB in f32). A batch whose `col`
/// would be larger is done in chunks of whole images, so a 5,000-image evaluation batch
/// through a 16-channel 3×3 layer (113 K values per image) does not allocate 2 GiB.
pub const COL_BUDGET: usize = 4 << 20;

/// `c_out` filters of `c_in`×`kh`×`kw` over `h`×`w` images, with stride and zero padding.
///
/// Rows of the layer's input and output are images in NCHW order. For a chunk of images:
///
/// ```text
///   forward   col  = im2col(x)                       c_in·kh·kw × images·oh·ow
///             prod = W · col                         c_out × images·oh·ow   (GEMM)
///             out[n][co][·] = prod[co][n·oh·ow ..] + b[co]
///   backward  dprod[co][n·oh·ow ..] = dout[n][co][·]
///             dW += dprod · colᵀ                     (GEMM, k = images·oh·ow)
///             db += Σ dprod[co][·]
///             dx  = col2im(Wᵀ · dprod)               (GEMM, then scatter-add)
/// ```
///
/// `W` is PyTorch's `[out, in, kh, kw]` weight viewed as `c_out × c_in·kh·kw`, so checkpoints
/// store it as it is. The im2col buffer, the product and their gradients live in the layer and
/// are reused from step to step; the chunk size depends on the geometry only (never on the
/// thread count), so the sums — and the results — are the same for any `--threads`.
#[derive(Debug)]
pub struct Conv2d<T> {
    pub win: Window,
    pub c_out: usize,
    pub w: Matrix<T>,
    pub b: Matrix<T>,
    pub dw: Matrix<T>,
    pub db: Matrix<T>,
    col: Vec<T>,
    prod: Vec<T>,
    dcol: Vec<T>,
    /// The forward pass left the whole batch's `col` in `col` (one chunk, training mode):
    /// backward reuses it instead of running im2col again.
    col_is_batch: Option<usize>,
    /// Values one im2col block may hold ([`COL_BUDGET`] unless a test lowers it).
    col_budget: usize,
    gemm: Gemm<T>,
}

impl<T: Float> Conv2d<T> {
    /// A layer over `win` (input geometry and kernel) with `w` (`c_out` × `c_in·kh·kw`) and a
    /// zero bias. The window must have an output (checked by the network builder).
    pub fn new(win: Window, w: Matrix<T>, threads: usize) -> Self {
        let c_out = w.rows();
        assert_eq!(w.cols(), win.col_rows(), "Conv2d: weight shape");
        Conv2d {
            win,
            c_out,
            w,
            b: Matrix::zeros(1, c_out),
            dw: Matrix::zeros(c_out, win.col_rows()),
            db: Matrix::zeros(1, c_out),
            col: Vec::new(),
            prod: Vec::new(),
            dcol: Vec::new(),
            col_is_batch: None,
            col_budget: COL_BUDGET,
            gemm: Gemm::with_threads(Kernel::Auto, threads),
        }
    }

    /// Output positions per channel.
    pub fn positions(&self) -> usize {
        self.win.positions()
    }

    /// Images per im2col block: as many as fit [`COL_BUDGET`], at least one.
    pub fn chunk_images(&self) -> usize {
        (self.col_budget / (self.win.col_rows() * self.positions()).max(1)).max(1)
    }

    /// This layer with another im2col budget (values per block): tests make it small to run
    /// a batch in several chunks.
    pub fn with_col_budget(self, values: usize) -> Self {
        Conv2d {
            col_budget: values,
            ..self
        }
    }

    /// Fills `self.col` with the im2col block of `images` images starting at `x`.
    fn fill_col(&mut self, x: &[T], images: usize) {
        let len = self.win.col_rows() * images * self.positions();
        self.col.resize(len, T::ZERO);
        im2col(x, images, &self.win, &mut self.col[..len]);
    }
}

impl<T: Float> Layer<T> for Conv2d<T> {
    fn forward(&mut self, x: &Matrix<T>, out: &mut Matrix<T>, mode: Mode) {
        // x: N × c_in·h·w → out: N × c_out·oh·ow.
        let (n, p, img) = (x.rows(), self.positions(), self.win.image_len());
        let ckk = self.win.col_rows();
        out.ensure_shape(n, self.c_out * p);
        let chunk = self.chunk_images();
        for start in (0..n).step_by(chunk) {
            let images = chunk.min(n - start);
            self.fill_col(&x.as_slice()[start * img..], images);
            let width = images * p;
            self.prod.resize(self.c_out * width, T::ZERO);
            let col = MatRef::new(&self.col, ckk, width, width, 1).expect("col shape");
            let prod =
                MatMut::new(&mut self.prod, self.c_out, width, width, 1).expect("product shape");
            self.gemm
                .run(T::ONE, self.w.view(), col, T::ZERO, prod)
                .expect("Conv2d: shapes checked at build");
            // prod is channel-major over the chunk; out wants image-major (NCHW rows).
            let bias = self.b.as_slice();
            for i in 0..images {
                let row = out.row_mut(start + i);
                for (co, (dst, &bc)) in row.chunks_exact_mut(p).zip(bias).enumerate() {
                    let src = &self.prod[co * width + i * p..][..p];
                    for (d, &s) in dst.iter_mut().zip(src) {
                        *d = s + bc;
                    }
                }
            }
        }
        self.col_is_batch = (mode == Mode::Train && n <= chunk).then_some(n);
    }

    fn backward(
        &mut self,
        x: &Matrix<T>,
        _out: &Matrix<T>,
        dout: &Matrix<T>,
        mut dx: Option<&mut Matrix<T>>,
    ) {
        let (n, p, img) = (x.rows(), self.positions(), self.win.image_len());
        let ckk = self.win.col_rows();
        let chunk = self.chunk_images();
        if let Some(dx) = dx.as_deref_mut() {
            dx.ensure_shape(n, img);
        }
        self.db.as_mut_slice().fill(T::ZERO);
        for start in (0..n).step_by(chunk) {
            let images = chunk.min(n - start);
            if self.col_is_batch != Some(n) {
                self.fill_col(&x.as_slice()[start * img..], images);
            }
            let width = images * p;
            // dprod (c_out × width) from dout's image-major rows; db sums it.
            self.prod.resize(self.c_out * width, T::ZERO);
            for i in 0..images {
                let row = dout.row(start + i);
                for (co, src) in row.chunks_exact(p).enumerate() {
                    self.prod[co * width + i * p..][..p].copy_from_slice(src);
                }
            }
            for (co, db) in self.db.as_mut_slice().iter_mut().enumerate() {
                *db += self.prod[co * width..(co + 1) * width]
                    .iter()
                    .fold(T::ZERO, |s, &v| s + v);
            }
            let dprod = MatRef::new(&self.prod, self.c_out, width, width, 1).expect("dprod");
            let col = MatRef::new(&self.col, ckk, width, width, 1).expect("col shape");
            // dW = dprod · colᵀ, summed over the chunks in order (β = 1 after the first).
            let beta = if start == 0 { T::ZERO } else { T::ONE };
            self.gemm
                .run(T::ONE, dprod, col.t(), beta, self.dw.view_mut())
                .expect("Conv2d: dW shape");
            if let Some(dx) = dx.as_deref_mut() {
                self.dcol.resize(ckk * width, T::ZERO);
                let dcol = MatMut::new(&mut self.dcol, ckk, width, width, 1).expect("dcol");
                self.gemm
                    .run(T::ONE, self.w.t(), dprod, T::ZERO, dcol)
                    .expect("Conv2d: dcol shape");
                let rows = &mut dx.as_mut_slice()[start * img..(start + images) * img];
                col2im(&self.dcol, images, &self.win, rows);
            }
        }
    }

    fn visit_params(&mut self, f: &mut dyn FnMut(Param<'_, T>)) {
        let w_shape = self.w.shape();
        f(Param {
            name: "weight",
            value: self.w.as_mut_slice(),
            grad: self.dw.as_mut_slice(),
            decay: true,
            shape: w_shape,
        });
        let b_shape = self.b.shape();
        f(Param {
            name: "bias",
            value: self.b.as_mut_slice(),
            grad: self.db.as_mut_slice(),
            decay: false,
            shape: b_shape,
        });
    }
}
