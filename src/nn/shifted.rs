//! The stride-1 convolution without an im2col copy: the im2col matrix as shifted windows of
//! one padded image.
//!
//! Pad the image once (`ph = h + 2·pad` rows of `pw = w + 2·pad`), and number the output
//! positions on the padded row pitch: position `(oy, ox)` is `oy·pw + ox`. Then row
//! `(ci, ky, kx)` of the im2col matrix is the padded image read from offset
//! `(ci·ph + ky)·pw + kx` on:
//!
//! ```text
//!   col[(ci, ky, kx)][oy·pw + ox] = xpad[ci][oy + ky][ox + kx]
//! ```
//!
//! The numbering leaves `pw − ow` unused positions after every output row but the last, so
//! the product `W · col` is `c_out × ((oh − 1)·pw + ow)`, a few columns wider than the output
//! (7 % for 28×28 with pad 1, 25 % for 8×8), and the layer keeps every `ow` of every `pw`. In
//! exchange the matrix is a list of `c·kh·kw` offsets ([`Lines`](crate::matrix::gemm::Lines)),
//! which the GEMM packs straight from the image: the im2col copy, and the pass that read it
//! back into panels, are gone. Every output value is the same chain of FMAs over the same k
//! as with the stored matrix, so the forward pass has the im2col path's bits.
//!
//! The weight gradient multiplies the output gradient, laid out the same wide way with zeros
//! in the unused positions, by the same lines as columns. The input gradient is the
//! convolution's transpose, and for stride 1 that is again a stride-1 convolution: of the
//! output gradient padded by `kh − 1 − pad` (and `kw − 1 − pad`) with the filters flipped and
//! their in and out channels swapped,
//!
//! ```text
//!   dx[ci][y][x] = Σ_(co, ky, kx)  W[co][ci][kh−1−ky][kw−1−kx] · dpad[co][y + ky][x + kx]
//! ```
//!
//! one product of depth `c_out·kh·kw` that writes `dx` itself, where the im2col path multiplies
//! at depth `c_out` into a `c·kh·kw × oh·ow` matrix and then scatters it back with col2im.

use super::im2col::Window;
use crate::matrix::{Float, Matrix};

/// The geometry of the shifted lowering of one stride-1 layer (see the module doc).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shifted {
    /// The padded input plane: `ph` rows of `pw`.
    pub ph: usize,
    /// Its width.
    pub pw: usize,
    /// Where row (ci, ky, kx) of the im2col matrix starts in the padded image.
    pub offsets: Vec<usize>,
    /// Columns of the wide product: `(oh − 1)·pw + ow`.
    pub wide: usize,
    /// The padded output-gradient plane: `qh = h + kh − 1` rows of `qw = w + kw − 1`.
    pub qh: usize,
    /// Its width.
    pub qw: usize,
    /// Where row (co, ky, kx) of the transposed convolution's im2col matrix starts in it.
    pub grad_offsets: Vec<usize>,
    /// Columns of the wide input gradient: `(h − 1)·qw + w`.
    pub grad_wide: usize,
    /// Whether the forward pass and the weight gradient use it (the input gradient always
    /// does): see [`Shifted::new`].
    pub for_forward: bool,
    /// Whether the weight gradient uses it.
    pub for_weights: bool,
    /// The window it lowers, and its output size.
    win: Window,
    c_out: usize,
    oh: usize,
    ow: usize,
}

impl Shifted {
    /// The lowering of `win` with `c_out` filters, or `None` where it does not apply: a stride
    /// other than 1, or a padding of a full kernel or more (whose transpose would need a
    /// negative padding), or no output.
    ///
    /// A layer with one input channel (a first layer on grey images) has a small im2col
    /// matrix (9 or 25 rows), whose copy costs less than the wide product's extra positions:
    /// such a layer keeps im2col for the weight gradient, and for the forward pass too when
    /// the wide product is more than 10 % wider than the output. Measured with `train
    /// --profile` on the Zen 4 VM: SimpleConvNet's 5×5 layer on 28×28 (16 % wider) 1.60 ms
    /// forward with im2col against 1.78 shifted, 2.0 backward against 2.3–2.6; DeepConvNet's
    /// first layer (3 % wider) 1.1 forward with im2col against 0.8 shifted, 1.15 backward
    /// against 1.3; its 16 → 16 layer 8.0 + 15.6 with im2col against 5.3 + 11.0 shifted.
    pub fn new(win: &Window, c_out: usize) -> Option<Self> {
        let (oh, ow) = (win.out_h()?, win.out_w()?);
        if win.stride != 1 || win.pad >= win.kh || win.pad >= win.kw || win.h == 0 || win.w == 0 {
            return None;
        }
        let (ph, pw) = (win.h + 2 * win.pad, win.w + 2 * win.pad);
        let (qh, qw) = (win.h + win.kh - 1, win.w + win.kw - 1);
        let taps = |planes: usize, rows: usize, pitch: usize| -> Vec<usize> {
            let mut v = Vec::with_capacity(planes * win.kh * win.kw);
            for c in 0..planes {
                for ky in 0..win.kh {
                    for kx in 0..win.kw {
                        v.push((c * rows + ky) * pitch + kx);
                    }
                }
            }
            v
        };
        Some(Shifted {
            ph,
            pw,
            offsets: taps(win.c, ph, pw),
            wide: (oh - 1) * pw + ow,
            qh,
            qw,
            grad_offsets: taps(c_out, qh, qw),
            grad_wide: (win.h - 1) * qw + win.w,
            for_forward: win.c > 1 || 10 * ((oh - 1) * pw + ow) <= 11 * oh * ow,
            for_weights: win.c > 1,
            win: *win,
            c_out,
            oh,
            ow,
        })
    }

    /// The image padded by the layer's padding, into `buf` (or the image itself without
    /// padding).
    pub fn padded_input<'a, T: Float>(&self, image: &'a [T], buf: &'a mut Vec<T>) -> &'a [T] {
        let Window { c, h, w, pad, .. } = self.win;
        if pad == 0 {
            return image;
        }
        pad_planes(image, c, h, w, (pad, pad), (self.ph, self.pw), buf);
        buf
    }

    /// The output gradient of one image padded for the transposed convolution, into `buf`.
    pub fn padded_grad<'a, T: Float>(&self, g: &[T], buf: &'a mut Vec<T>) -> &'a [T] {
        let Window { kh, kw, pad, .. } = self.win;
        let border = (kh - 1 - pad, kw - 1 - pad);
        pad_planes(
            g,
            self.c_out,
            self.oh,
            self.ow,
            border,
            (self.qh, self.qw),
            buf,
        );
        buf
    }

    /// `out[ch][oy·ow + ox] = wide[ch][oy·pw + ox] + bias[ch]`: the output row from the wide
    /// product (bias added after the product, as the im2col path adds it).
    pub fn narrow_output<T: Float>(&self, wide: &[T], bias: &[T], out: &mut [T]) {
        narrow(wide, self.wide, self.pw, self.ow, out, |ch, dst, src| {
            for (d, &s) in dst.iter_mut().zip(src) {
                *d = s + bias[ch];
            }
        });
    }

    /// The input gradient row from the transposed convolution's wide product.
    pub fn narrow_grad<T: Float>(&self, wide: &[T], dx: &mut [T]) {
        narrow(
            wide,
            self.grad_wide,
            self.qw,
            self.win.w,
            dx,
            |_, dst, src| dst.copy_from_slice(src),
        );
    }

    /// The output gradient of one image laid out wide (`c_out × wide`), zeros in the unused
    /// positions, for the weight gradient's product.
    pub fn widen_grad<T: Float>(&self, g: &[T], buf: &mut Vec<T>) {
        let (p, pw, ow) = (self.oh * self.ow, self.pw, self.ow);
        buf.resize(self.c_out * self.wide, T::ZERO);
        for (dst, src) in buf.chunks_exact_mut(self.wide).zip(g.chunks_exact(p)) {
            for (oy, row) in src.chunks_exact(ow).enumerate() {
                let at = oy * pw;
                dst[at..at + ow].copy_from_slice(row);
                let end = (at + pw).min(self.wide);
                dst[at + ow..end].fill(T::ZERO);
            }
        }
    }

    /// The flipped, channel-swapped filters of the transposed convolution:
    /// `flip[ci][(co, ky, kx)] = w[co][(ci, kh − 1 − ky, kw − 1 − kx)]`, into `flip`
    /// (`rows × c_out·kh·kw`, `rows` ≥ `c_in`: the rows past `c_in` are zeros, see
    /// [`tall_rows`]).
    pub fn flip_filters<T: Float>(&self, w: &Matrix<T>, rows: usize, flip: &mut Matrix<T>) {
        let Window { c, kh, kw, .. } = self.win;
        let taps = kh * kw;
        assert!(rows >= c, "flip_filters: {rows} rows for {c} channels");
        flip.ensure_shape(rows, self.c_out * taps);
        flip.as_mut_slice()[c * self.c_out * taps..].fill(T::ZERO);
        let (src, dst) = (w.as_slice(), flip.as_mut_slice());
        for ci in 0..c {
            for co in 0..self.c_out {
                for t in 0..taps {
                    dst[(ci * self.c_out + co) * taps + t] =
                        src[(co * c + ci) * taps + (taps - 1 - t)];
                }
            }
        }
    }
}

/// The rows a shifted product with `m` rows of filters and `n` wide columns is given: `m`
/// rounded up to whole row tiles of the microkernel that runs it, the extra filters zero.
/// Its C is the layer's own scratch buffer, so the extra rows cost only their FMAs — which a
/// partial tile computes anyway — and every tile is then written in place: the driver's edge
/// path (a temporary tile, copied out value by value) took a third of the tiles of
/// DeepConvNet's 16-filter products (6 + 6 + 4 rows). The sums are the same either way (a
/// 30-step DeepConvNet run ends at the same loss, bit for bit). Measured with `train --net
/// deep-cnn --profile` on the Zen 3 VM, three alternated rounds: the first layer's forward
/// pass (depth 9, where a tile's write is a large share of its work) 1.25–1.38 → 0.97–0.98 ms
/// per step, the 16 → 16 layer's 7.0–7.3 → 6.7–6.8 ms, its backward pass (dx) 14.5–14.7 →
/// 14.1–14.6 ms.
pub fn tall_rows<T: Float>(m: usize, n: usize) -> usize {
    m.next_multiple_of(crate::matrix::gemm::dispatch::kernel_for::<T>(m, n).mr())
}

/// `src` with zero rows appended up to `rows`, into `out`.
pub fn pad_rows<T: Float>(src: &Matrix<T>, rows: usize, out: &mut Matrix<T>) {
    out.ensure_shape(rows, src.cols());
    let (top, rest) = out.as_mut_slice().split_at_mut(src.len());
    top.copy_from_slice(src.as_slice());
    rest.fill(T::ZERO);
}

/// `c` planes of `h × w` into planes of `ph × pw` with `border = (top, left)` zeros before
/// them (and the rest of each padded row and plane zero).
fn pad_planes<T: Float>(
    x: &[T],
    c: usize,
    h: usize,
    w: usize,
    border: (usize, usize),
    (ph, pw): (usize, usize),
    buf: &mut Vec<T>,
) {
    let (top, left) = border;
    buf.resize(c * ph * pw, T::ZERO);
    for (plane, src) in buf.chunks_exact_mut(ph * pw).zip(x.chunks_exact(h * w)) {
        plane[..top * pw].fill(T::ZERO);
        for (y, row) in src.chunks_exact(w).enumerate() {
            let dst = &mut plane[(top + y) * pw..(top + y + 1) * pw];
            dst[..left].fill(T::ZERO);
            dst[left..left + w].copy_from_slice(row);
            dst[left + w..].fill(T::ZERO);
        }
        plane[(top + h) * pw..].fill(T::ZERO);
    }
}

/// Walks planes of `rows·cols` values in `out` against wide planes of `len` values in `wide`
/// whose rows are `pitch` apart, handing `row(plane, out row, the wide row's first cols)`.
fn narrow<T: Float>(
    wide: &[T],
    len: usize,
    pitch: usize,
    cols: usize,
    out: &mut [T],
    mut row: impl FnMut(usize, &mut [T], &[T]),
) {
    let rows = len.div_ceil(pitch);
    for (plane, (dst, src)) in out
        .chunks_exact_mut(rows * cols)
        .zip(wide.chunks_exact(len))
        .enumerate()
    {
        for (y, line) in dst.chunks_exact_mut(cols).enumerate() {
            row(plane, line, &src[y * pitch..y * pitch + cols]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::im2col::im2col;
    use super::*;

    fn win(c: usize, h: usize, w: usize, kh: usize, kw: usize, pad: usize) -> Window {
        Window {
            c,
            h,
            w,
            kh,
            kw,
            stride: 1,
            pad,
        }
    }

    #[test]
    fn its_lines_are_the_im2col_matrix_on_the_wide_numbering() {
        use crate::matrix::gemm::Lines;
        for win in [
            win(1, 5, 5, 3, 3, 1),
            win(3, 7, 4, 3, 2, 0),
            win(2, 6, 6, 5, 5, 2),
            win(2, 4, 9, 1, 3, 0),
            win(1, 3, 3, 3, 3, 2),
        ] {
            let s = Shifted::new(&win, 2).unwrap();
            let x: Vec<f64> = (0..win.image_len()).map(|v| v as f64 + 1.0).collect();
            let mut col = vec![f64::NAN; win.col_rows() * win.positions()];
            im2col(&x, 1, &win, &mut col);
            let mut buf = Vec::new();
            let xp = s.padded_input(&x, &mut buf);
            let lines = Lines::rows(xp, &s.offsets, s.wide).unwrap();
            let (ow, p) = (win.out_w().unwrap(), win.positions());
            for r in 0..win.col_rows() {
                for q in 0..p {
                    let wide = q / ow * s.pw + q % ow;
                    assert_eq!(lines.at(r, wide), col[r * p + q], "{win:?} row {r} pos {q}");
                }
            }
        }
    }

    #[test]
    fn strides_and_full_paddings_are_left_to_im2col() {
        let mut w = win(1, 8, 8, 3, 3, 1);
        assert!(Shifted::new(&w, 1).is_some());
        w.stride = 2;
        assert!(Shifted::new(&w, 1).is_none());
        assert!(Shifted::new(&win(1, 8, 8, 3, 3, 3), 1).is_none());
        assert!(Shifted::new(&win(1, 8, 8, 3, 1, 1), 1).is_none());
        assert!(Shifted::new(&win(1, 2, 2, 3, 3, 0), 1).is_none());
    }

    #[test]
    fn flipped_filters_swap_channels_and_reverse_taps() {
        let w = Matrix::from_fn(2, 3 * 4, |co, r| (co * 100 + r) as f64);
        let s = Shifted::new(&win(3, 5, 5, 2, 2, 1), 2).unwrap();
        let mut flip = Matrix::zeros(0, 0);
        s.flip_filters(&w, 5, &mut flip);
        assert_eq!(flip.shape(), (5, 2 * 4));
        assert!(flip.as_slice()[3 * 8..].iter().all(|&v| v == 0.0));
        // flip[ci = 1][(co = 1, ky = 0, kx = 1)] = w[1][(1, 1, 0)] = 100 + 4 + 2.
        assert_eq!(flip.get(1, 4 + 1), 106.0);
        assert_eq!(flip.get(2, 3), w.get(0, 2 * 4));
    }
}
