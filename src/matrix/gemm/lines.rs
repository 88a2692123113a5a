//! Operands that are never stored as a matrix: every row (or every column) is a slice of one
//! buffer, at an offset of its own.
//!
//! A stride-1 convolution's im2col matrix is the example this exists for. Lay the output
//! positions out on the padded image's row pitch `pw` (position `(oy, ox)` at `oy·pw + ox`,
//! with `pw − ow` unused positions at the end of each output row), and row `(ci, ky, kx)` of
//! the im2col matrix is the padded image itself, shifted by `ci·ph·pw + ky·pw + kx`:
//!
//! ```text
//!   col[(ci, ky, kx)][oy·pw + ox] = xpad[ci][oy + ky][ox + kx] = xpad[(ci·ph + ky)·pw + kx + (oy·pw + ox)]
//! ```
//!
//! So the matrix is `c·kh·kw` offsets into one image, and packing it for the microkernel reads
//! the image directly: the copy im2col would make, and the pass that would read it back, are
//! gone. [`Lines::rows`] is that matrix (each row a slice); [`Lines::cols`] its transpose (each
//! column a slice), which the weight gradient multiplies by.

use super::pack::{copy_group, pack_row_slices, panels};
use crate::error::{Error, Result};
use crate::matrix::{Float, Matrix};

/// A matrix whose rows ([`Lines::rows`]) or columns ([`Lines::cols`]) are `len`-long slices of
/// `data` starting at `offsets`.
#[derive(Clone, Copy, Debug)]
pub struct Lines<'a, T> {
    data: &'a [T],
    offsets: &'a [usize],
    len: usize,
    cols: bool,
}

impl<'a, T: Float> Lines<'a, T> {
    /// `offsets.len()` × `len`: row i is `data[offsets[i]..offsets[i] + len]`.
    pub fn rows(data: &'a [T], offsets: &'a [usize], len: usize) -> Result<Self> {
        Self::new(data, offsets, len, false)
    }

    /// `len` × `offsets.len()`: column j is `data[offsets[j]..offsets[j] + len]`.
    pub fn cols(data: &'a [T], offsets: &'a [usize], len: usize) -> Result<Self> {
        Self::new(data, offsets, len, true)
    }

    fn new(data: &'a [T], offsets: &'a [usize], len: usize, cols: bool) -> Result<Self> {
        if let Some(&bad) = offsets
            .iter()
            .find(|&&o| o.checked_add(len).is_none_or(|end| end > data.len()))
        {
            return Err(Error::Config(format!(
                "a line of {len} values at offset {bad} runs past its buffer of {}",
                data.len()
            )));
        }
        Ok(Lines {
            data,
            offsets,
            len,
            cols,
        })
    }

    /// (rows, columns).
    pub fn shape(&self) -> (usize, usize) {
        if self.cols {
            (self.len, self.offsets.len())
        } else {
            (self.offsets.len(), self.len)
        }
    }

    /// Rows of the operand.
    pub fn rows_count(&self) -> usize {
        self.shape().0
    }

    /// Columns of the operand (each line's length).
    pub fn cols_count(&self) -> usize {
        self.shape().1
    }

    /// Element (i, j).
    pub fn at(&self, i: usize, j: usize) -> T {
        if self.cols {
            self.data[self.offsets[j] + i]
        } else {
            self.data[self.offsets[i] + j]
        }
    }

    /// The matrix written out (for tests and references; the point of the type is not to).
    pub fn to_matrix(&self) -> Matrix<T> {
        let (r, c) = self.shape();
        Matrix::from_fn(r, c, |i, j| self.at(i, j))
    }

    /// Packs the block of rows `p0..p0 + kb` and columns `j0..j0 + nb` into panels of `nr`
    /// columns, exactly as [`pack_panels`](super::pack::pack_panels) packs the same block of a
    /// stored B (viewed transposed): panel q holds, for p < kb, the `nr` values of row `p0 + p`
    /// from column `j0 + q·nr`, zeros past column `nb`. `out` must hold
    /// `panels(nb, nr) · nr · kb` values.
    pub fn pack_block(&self, p0: usize, kb: usize, j0: usize, nb: usize, nr: usize, out: &mut [T]) {
        let need = panels(nb, nr) * nr * kb;
        assert!(
            out.len() >= need,
            "Lines::pack_block: output buffer too short"
        );
        assert!(p0 + kb <= self.rows_count() && j0 + nb <= self.cols_count());
        let out = &mut out[..need];
        if kb == 0 {
            return;
        }
        match nr {
            8 => self.pack_fixed::<8>(p0, kb, j0, nb, out),
            16 => self.pack_fixed::<16>(p0, kb, j0, nb, out),
            32 => self.pack_fixed::<32>(p0, kb, j0, nb, out),
            _ => {
                for (q, panel) in out.chunks_exact_mut(nr * kb).enumerate() {
                    for (p, group) in panel.chunks_exact_mut(nr).enumerate() {
                        for (i, dst) in group.iter_mut().enumerate() {
                            let j = q * nr + i;
                            *dst = if j < nb {
                                self.at(p0 + p, j0 + j)
                            } else {
                                T::ZERO
                            };
                        }
                    }
                }
            }
        }
    }

    fn pack_fixed<const W: usize>(
        &self,
        p0: usize,
        kb: usize,
        j0: usize,
        nb: usize,
        out: &mut [T],
    ) {
        for (q, panel) in out.chunks_exact_mut(W * kb).enumerate() {
            let j = j0 + q * W;
            let live = W.min(nb - q * W);
            if self.cols {
                // Each of the panel's columns is a slice: gather them into groups (a
                // transposition, in 8×8 register blocks where the CPU allows).
                let (data, offsets) = (self.data, self.offsets);
                pack_row_slices::<T, W>(|i| &data[offsets[j + i] + p0..][..kb], live, kb, panel);
            } else {
                // Each row's W values are contiguous in the buffer: one short copy per row.
                #[cfg(target_arch = "x86_64")]
                if live == W
                    && let Some(token) = super::dispatch::avx2_fma()
                {
                    let offsets = &self.offsets[p0..p0 + kb];
                    super::kernel::avx2::copy_groups::<T, W>(token, self.data, offsets, j, panel);
                    continue;
                }
                for (group, &off) in panel.chunks_exact_mut(W).zip(&self.offsets[p0..p0 + kb]) {
                    copy_group::<T, W>(group, &self.data[off + j..off + j + live]);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::gemm::pack::pack_panels;

    #[test]
    fn packs_every_block_as_the_stored_matrix_packs() {
        let data: Vec<f32> = (0..500).map(|v| v as f32 * 0.5 - 7.0).collect();
        let offsets = [0, 3, 17, 40, 41, 99, 120, 7, 250, 300, 11];
        for lines in [
            Lines::rows(&data, &offsets, 37).unwrap(),
            Lines::cols(&data, &offsets, 37).unwrap(),
        ] {
            let b = lines.to_matrix();
            let (k, n) = lines.shape();
            for nr in [4, 8, 16, 32] {
                for (p0, kb, j0, nb) in [(0, k, 0, n), (2, 5, 1, n - 1), (1, k - 3, 3, 2)] {
                    let len = panels(nb, nr) * nr * kb;
                    let mut want = vec![f32::NAN; len];
                    pack_panels(b.view().sub(p0, j0, kb, nb).t(), nr, &mut want);
                    let mut got = vec![f32::NAN; len];
                    lines.pack_block(p0, kb, j0, nb, nr, &mut got);
                    assert_eq!(
                        got, want,
                        "cols {} nr {nr} block {p0} {kb} {j0} {nb}",
                        lines.cols
                    );
                }
            }
        }
    }

    #[test]
    fn a_line_past_the_buffer_is_refused() {
        let data = [0.0_f64; 10];
        assert!(Lines::rows(&data, &[0, 5], 5).is_ok());
        let err = Lines::cols(&data, &[0, 6], 5).unwrap_err().to_string();
        assert!(err.contains("offset 6"), "{err}");
        assert!(Lines::rows(&data, &[usize::MAX], 2).is_err());
    }
}
