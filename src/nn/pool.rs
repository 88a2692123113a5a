//! Pooling (`nn.MaxPool2d`, `nn.AvgPool2d`) and flattening (`nn.Flatten`).
//!
//! Pooling has no weights and no products worth a GEMM (each output reads `size²` inputs once),
//! so unlike the book, which runs pooling through im2col too, it loops over the windows
//! directly: no `col` copy of the input.

use super::im2col::Window;
use super::relu::rectify;
use super::{Layer, Mode};
use crate::matrix::{Float, Matrix};

/// Whether a pooling layer takes the maximum or the mean of each window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolKind {
    /// The maximum of each window.
    Max,
    /// The mean of each window.
    Avg,
}

/// Max or average pooling of each channel over `kh`×`kw` windows (`win.c` channels of
/// `win.h`×`win.w`), with stride and padding.
///
/// Max pooling ignores the padding (PyTorch pads with −∞) and remembers, for every output, the
/// input position of its maximum — the first one in scan order when several are equal, as
/// PyTorch does — so backward routes each gradient to that one input. Average pooling counts
/// the padding as zeros in the mean (PyTorch's default `count_include_pad=True`).
#[derive(Debug)]
pub struct Pool2d {
    /// Max or average.
    pub kind: PoolKind,
    /// The input and window geometry.
    pub win: Window,
    /// Per output value of the last training forward pass, the index of its maximum within
    /// the image (max pooling only).
    argmax: Vec<u32>,
    /// Per output position (oy, ox), the input rows and columns its window covers, clipped to
    /// the image: `(y0, y1, x0, x1)`, the same for every channel. Computed once, at build.
    spans: Vec<(usize, usize, usize, usize)>,
}

impl Pool2d {
    /// A pooling layer over `win`; the window must have an output (checked by the builder).
    pub fn new(kind: PoolKind, win: Window) -> Self {
        assert!(
            win.image_len() <= u32::MAX as usize,
            "image too large to index"
        );
        let (oh, ow) = (win.out_h().unwrap_or(0), win.out_w().unwrap_or(0));
        let span = |o: usize, k: usize, size: usize| {
            let start = o * win.stride;
            let lo = start.saturating_sub(win.pad).min(size);
            let hi = (start + k).saturating_sub(win.pad).min(size);
            (lo, hi)
        };
        let spans = (0..oh * ow)
            .map(|pos| {
                let (y0, y1) = span(pos / ow, win.kh, win.h);
                let (x0, x1) = span(pos % ow, win.kw, win.w);
                (y0, y1, x0, x1)
            })
            .collect();
        Pool2d {
            kind,
            win,
            argmax: Vec::new(),
            spans,
        }
    }

    /// Output values per image: `c·oh·ow`.
    pub fn out_len(&self) -> usize {
        self.win.c * self.win.positions()
    }

    /// Max pooling when the windows tile the image (stride = size, no padding): each output
    /// row is a running maximum over `size` input rows, computed a whole row at a time, so the
    /// inner loops are unit-stride and free of window bookkeeping (4 ms → 0.4 ms for a batch
    /// of SimpleConvNet's 30×24×24 maps). Same results as the general loop: the first maximum
    /// of each window in scan order (rows top to bottom, columns left to right) wins.
    fn max_tiled<T: Float>(
        &mut self,
        x: &Matrix<T>,
        out: &mut Matrix<T>,
        remember: bool,
        relu: bool,
    ) {
        let Window { c, h, w, kw: k, .. } = self.win;
        let (oh, ow) = (self.win.out_h().unwrap_or(0), self.win.out_w().unwrap_or(0));
        let (img, out_len) = (self.win.image_len(), self.out_len());
        let mut spare = vec![0u32; ow];
        for s in 0..x.rows() {
            let xs = &x.as_slice()[s * img..(s + 1) * img];
            let os = out.row_mut(s);
            for ch in 0..c {
                let plane = &xs[ch * h * w..(ch + 1) * h * w];
                for oy in 0..oh {
                    let o = (ch * oh + oy) * ow;
                    // The arg-maxes go straight to their place when they are kept.
                    let at = if remember {
                        &mut self.argmax[s * out_len + o..s * out_len + o + ow]
                    } else {
                        &mut spare[..]
                    };
                    let row = &mut os[o..o + ow];
                    if k == 2 {
                        // The book's 2×2 pool, branch-free: the maximum of the four, then the
                        // first of them equal to it, by arithmetic on the comparisons (a
                        // data-dependent branch mispredicts on every other window of a real
                        // feature map: this loop took 4 ms per SimpleConvNet batch with one).
                        // Written to the output and arg-max rows in the same pass (as every
                        // size is), rectified there when the ReLU is absorbed, rather than
                        // through a row buffer copied after: SimpleConvNet's pool on the Zen 3 VM,
                        // 1.36–1.50 → 1.28–1.31 ms per batch (`train --net simple-cnn --iters
                        // 300 --profile`, two alternated runs each).
                        let top = &plane[2 * oy * w..2 * oy * w + 2 * ow];
                        let bottom = &plane[(2 * oy + 1) * w..(2 * oy + 1) * w + 2 * ow];
                        let base = (ch * h * w + 2 * oy * w) as u32;
                        for (ox, ((d, a), (t2, b2))) in row
                            .iter_mut()
                            .zip(at.iter_mut())
                            .zip(top.chunks_exact(2).zip(bottom.chunks_exact(2)))
                            .enumerate()
                        {
                            let (v0, v1, v2, v3) = (t2[0], t2[1], b2[0], b2[1]);
                            let m = v0.max(v1).max(v2.max(v3));
                            let (n0, n1, n2) =
                                (u32::from(v0 != m), u32::from(v1 != m), u32::from(v2 != m));
                            // 0, 1, w or w + 1 past the window's corner.
                            let col = n0 * (1 - n1 + n1 * n2);
                            let row = n0 * n1;
                            *d = if relu { rectify(m) } else { m };
                            *a = base + 2 * ox as u32 + col + row * w as u32;
                        }
                    } else {
                        Self::max_rows(plane, oy, k, w, ow, ch * h * w, row, at);
                        if relu {
                            row.iter_mut().for_each(|v| *v = rectify(*v));
                        }
                    }
                }
            }
        }
    }

    /// One output row of a tiled max pool of any size: candidates in window scan order (dy,
    /// then dx), each pass a select across the whole output row.
    #[allow(clippy::too_many_arguments)]
    fn max_rows<T: Float>(
        plane: &[T],
        oy: usize,
        k: usize,
        w: usize,
        ow: usize,
        offset: usize,
        best: &mut [T],
        at: &mut [u32],
    ) {
        best.fill(T::from_f64(f64::NEG_INFINITY));
        for dy in 0..k {
            let iy = oy * k + dy;
            let row = &plane[iy * w..iy * w + ow * k];
            for dx in 0..k {
                let first = (offset + iy * w + dx) as u32;
                let cols = row[dx..].iter().step_by(k);
                for (ox, ((b, a), &v)) in best.iter_mut().zip(at.iter_mut()).zip(cols).enumerate() {
                    if v > *b {
                        *b = v;
                        *a = first + (ox * k) as u32;
                    }
                }
            }
        }
    }
}

impl Pool2d {
    /// Forward, of `relu(x)` when `relu` (max pooling only: the maximum of the rectified
    /// window is the rectified maximum, and the arg-max of the raw values routes the same
    /// gradients — where the maximum is not positive, ReLU's mask zeroes them either way).
    fn forward_impl<T: Float>(
        &mut self,
        x: &Matrix<T>,
        out: &mut Matrix<T>,
        mode: Mode,
        relu: bool,
    ) {
        debug_assert!(!relu || self.kind == PoolKind::Max);
        let Window {
            c,
            h,
            w,
            kh,
            kw,
            stride,
            pad,
        } = self.win;
        let (n, img, out_len) = (x.rows(), self.win.image_len(), self.out_len());
        out.ensure_shape(n, out_len);
        let remember = self.kind == PoolKind::Max && mode == Mode::Train;
        if remember {
            self.argmax.resize(n * out_len, 0);
        }
        let inv_area = T::from_f64(1.0 / (kh * kw) as f64);
        if self.kind == PoolKind::Max && pad == 0 && stride == kw && kh == kw {
            // The book's pools (2×2, stride 2): windows tile the image, no padding.
            self.max_tiled(x, out, remember, relu);
            return;
        }
        let plane = h * w;
        for s in 0..n {
            let xs = &x.as_slice()[s * img..(s + 1) * img];
            let os = out.row_mut(s);
            for ch in 0..c {
                let xc = &xs[ch * plane..(ch + 1) * plane];
                for (pos, &(y0, y1, x0, x1)) in self.spans.iter().enumerate() {
                    let o = ch * self.spans.len() + pos;
                    match self.kind {
                        PoolKind::Max => {
                            let (mut best, mut at) = (T::from_f64(f64::NEG_INFINITY), y0 * w + x0);
                            for iy in y0..y1 {
                                for ix in x0..x1 {
                                    if xc[iy * w + ix] > best {
                                        best = xc[iy * w + ix];
                                        at = iy * w + ix;
                                    }
                                }
                            }
                            os[o] = if relu { rectify(best) } else { best };
                            if remember {
                                self.argmax[s * out_len + o] = (ch * plane + at) as u32;
                            }
                        }
                        PoolKind::Avg => {
                            let sum = (y0..y1).fold(T::ZERO, |sum, iy| {
                                xc[iy * w + x0..iy * w + x1]
                                    .iter()
                                    .fold(sum, |acc, &v| acc + v)
                            });
                            os[o] = sum * inv_area;
                        }
                    }
                }
            }
        }
    }

    /// Backward; with `relu`, through the ReLU too: a gradient reaches its arg-max only where
    /// the pooled output is positive, as ReLU's mask (`relu(x) > 0` there) would let it.
    fn backward_impl<T: Float>(
        &mut self,
        x: &Matrix<T>,
        out: &Matrix<T>,
        dout: &Matrix<T>,
        dx: Option<&mut Matrix<T>>,
        relu: bool,
    ) {
        let Some(dx) = dx else { return };
        let Window {
            c, h, w, kh, kw, ..
        } = self.win;
        let (n, img, out_len) = (x.rows(), self.win.image_len(), self.out_len());
        dx.ensure_shape(n, img);
        let inv_area = T::from_f64(1.0 / (kh * kw) as f64);
        for s in 0..n {
            let g = dout.row(s);
            let dxs = dx.row_mut(s);
            // Zeroed image by image, just before its gradients are added: the image is then in
            // L1/L2 for the updates, where a fill of the whole batch first (6.9 MB for
            // SimpleConvNet) wrote it out to memory and read it back.
            dxs.fill(T::ZERO);
            match self.kind {
                PoolKind::Max => {
                    let at = &self.argmax[s * out_len..(s + 1) * out_len];
                    if relu {
                        // Every window whose arg-max is input i has output relu(x[i]): all of
                        // them pass or none, so the sums are those of the unfused pair.
                        for ((&i, &gv), &o) in at.iter().zip(g).zip(out.row(s)) {
                            dxs[i as usize] += if o > T::ZERO { gv } else { T::ZERO };
                        }
                    } else {
                        for (&i, &gv) in at.iter().zip(g) {
                            dxs[i as usize] += gv;
                        }
                    }
                }
                PoolKind::Avg => {
                    for ch in 0..c {
                        let dxc = &mut dxs[ch * h * w..(ch + 1) * h * w];
                        for (pos, &(y0, y1, x0, x1)) in self.spans.iter().enumerate() {
                            let share = g[ch * self.spans.len() + pos] * inv_area;
                            for iy in y0..y1 {
                                for d in &mut dxc[iy * w + x0..iy * w + x1] {
                                    *d += share;
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

impl<T: Float> Layer<T> for Pool2d {
    fn forward(&mut self, x: &Matrix<T>, out: &mut Matrix<T>, mode: Mode) {
        self.forward_impl(x, out, mode, false);
    }

    fn backward(
        &mut self,
        x: &Matrix<T>,
        out: &Matrix<T>,
        dout: &Matrix<T>,
        dx: Option<&mut Matrix<T>>,
    ) {
        self.backward_impl(x, out, dout, dx, false);
    }

    fn forward_rectified(&mut self, x: &Matrix<T>, out: &mut Matrix<T>, mode: Mode) -> bool {
        if self.kind != PoolKind::Max {
            return false;
        }
        self.forward_impl(x, out, mode, true);
        true
    }

    fn backward_rectified(
        &mut self,
        x: &Matrix<T>,
        out: &Matrix<T>,
        dout: &Matrix<T>,
        dx: Option<&mut Matrix<T>>,
    ) -> bool {
        if self.kind != PoolKind::Max {
            return false;
        }
        self.backward_impl(x, out, dout, dx, true);
        true
    }
}

/// `nn.Flatten`: an image batch (N × c·h·w, NCHW) is already a matrix of N row vectors in the
/// order PyTorch's flatten produces, so forward and backward are copies — which the network
/// skips by swapping its activation buffers instead ([`Network::set_fusion`]); these copies
/// run with that shortcut off. The layer exists so that the layer list, and a checkpoint's
/// module indices, match `nn.Sequential`.
///
/// [`Network::set_fusion`]: super::network::Network::set_fusion
#[derive(Debug, Default)]
pub struct Flatten;

impl<T: Float> Layer<T> for Flatten {
    fn forward(&mut self, x: &Matrix<T>, out: &mut Matrix<T>, _mode: Mode) {
        out.copy_from(x);
    }

    fn backward(
        &mut self,
        _x: &Matrix<T>,
        _out: &Matrix<T>,
        dout: &Matrix<T>,
        dx: Option<&mut Matrix<T>>,
    ) {
        if let Some(dx) = dx {
            dx.copy_from(dout);
        }
    }
}
