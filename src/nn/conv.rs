//! Convolution (`nn.Conv2d`) as the book's chapter 7 builds it: im2col, then one GEMM.

use super::im2col::{Window, col2im, im2col};
use super::{Layer, Mode, Param, visit_weight_and_bias};
use crate::matrix::gemm::{Gemm, Kernel};
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
/// `W` is PyTorch's `[out, in, kh, kw]` weight viewed as `c_out × c_in·kh·kw`, so checkpoints
/// store it as it is. One image at a time, because the product's rows (`c_out` × `oh·ow`) are
/// then exactly the image's output row in NCHW order — no transposition — and the im2col
/// buffer (57 KiB for SimpleConvNet's 25 × 576) stays in L1/L2 between im2col and the GEMM
/// that reads it. Batching the images into one wide product was measured first: its 6 MiB
/// `col` and product went through L3 three times, and the conv layer took 5.2 ms per
/// SimpleConvNet step against 4.2 ms this way (docs/cnn.md). The sums run in image order,
/// whatever the thread count, so results are bit-identical for any `--threads`.
#[derive(Debug)]
pub struct Conv2d<T> {
    pub win: Window,
    pub c_out: usize,
    pub w: Matrix<T>,
    pub b: Matrix<T>,
    pub dw: Matrix<T>,
    pub db: Matrix<T>,
    col: Vec<T>,
    dcol: Vec<T>,
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
            dcol: Vec::new(),
            gemm: Gemm::with_threads(Kernel::Auto, threads),
        }
    }

    /// Output positions per channel.
    pub fn positions(&self) -> usize {
        self.win.positions()
    }

    /// Fills `self.col` with the im2col matrix of one image.
    fn fill_col(&mut self, image: &[T]) {
        let len = self.win.col_rows() * self.positions();
        self.col.resize(len, T::ZERO);
        im2col(image, 1, &self.win, &mut self.col);
    }
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
        let (n, p) = (x.rows(), self.positions());
        let ckk = self.win.col_rows();
        out.ensure_shape(n, self.c_out * p);
        for i in 0..n {
            self.fill_col(x.row(i));
            let col = MatRef::new(&self.col, ckk, p, p, 1).expect("col shape");
            let row = out.row_mut(i);
            let prod = MatMut::new(row, self.c_out, p, p, 1).expect("output row shape");
            self.gemm
                .run(T::ONE, self.w.view(), col, T::ZERO, prod)
                .expect("Conv2d: shapes checked at build");
            for (channel, &bias) in out.row_mut(i).chunks_exact_mut(p).zip(self.b.as_slice()) {
                channel.iter_mut().for_each(|v| *v += bias);
            }
        }
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
        if let Some(dx) = dx.as_deref_mut() {
            dx.ensure_shape(n, img);
        }
        self.db.as_mut_slice().fill(T::ZERO);
        self.dw.as_mut_slice().fill(T::ZERO);
        for i in 0..n {
            let g = dout.row(i);
            for (db, channel) in self.db.as_mut_slice().iter_mut().zip(g.chunks_exact(p)) {
                *db += lane_sum(channel);
            }
            self.fill_col(x.row(i));
            let dprod = MatRef::new(g, self.c_out, p, p, 1).expect("dout row shape");
            let col = MatRef::new(&self.col, ckk, p, p, 1).expect("col shape");
            // dW += dout[n] · colᵀ, image after image.
            self.gemm
                .run(T::ONE, dprod, col.t(), T::ONE, self.dw.view_mut())
                .expect("Conv2d: dW shape");
            if let Some(dx) = dx.as_deref_mut() {
                self.dcol.resize(ckk * p, T::ZERO);
                let dcol = MatMut::new(&mut self.dcol, ckk, p, p, 1).expect("dcol shape");
                self.gemm
                    .run(T::ONE, self.w.t(), dprod, T::ZERO, dcol)
                    .expect("Conv2d: dcol shape");
                col2im(&self.dcol, 1, &self.win, dx.row_mut(i));
            }
        }
    }

    fn visit_params(&mut self, f: &mut dyn FnMut(Param<'_, T>)) {
        visit_weight_and_bias(&mut self.w, &mut self.dw, &mut self.b, &mut self.db, f);
    }
}
