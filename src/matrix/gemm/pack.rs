//! Packing: copying a block of A or B into the contiguous panel order the microkernel reads.
//!
//! Packing costs one pass over the block, and buys three things for the many passes that follow:
//! the microkernel's loads become unit-stride and predictable (the hardware prefetcher follows
//! them), the panel is aligned and contiguous (no TLB misses, no cache-set conflicts between
//! rows that are a power of two apart), and a transposed operand costs nothing extra, since the
//! strided reads happen once here, never in the kernel.
//!
//! Both operands use one routine: A's row panels (mr rows) and B's column panels (nr columns)
//! are the same thing once B is viewed transposed — `pack_b(B) = pack_a(Bᵀ)`.

use crate::matrix::{Float, MatRef};

/// Packing buffers start on a 64-byte boundary: one cache line, and aligned for 256-bit loads.
const ALIGN_BYTES: usize = 64;

/// A growable buffer whose working slice starts on a cache-line boundary.
///
/// `Vec<T>` only guarantees `T`'s alignment, so the buffer over-allocates by one cache line and
/// starts its slice at the first aligned element. It grows, never shrinks: kept in a
/// [`Workspace`](super::Workspace), it allocates on the first product and never again.
#[derive(Debug, Default)]
pub struct AlignedBuf<T> {
    raw: Vec<T>,
}

impl<T: Float> AlignedBuf<T> {
    /// An aligned slice of at least `len` elements (contents unspecified).
    pub fn slice_mut(&mut self, len: usize) -> &mut [T] {
        let slack = ALIGN_BYTES / std::mem::size_of::<T>();
        if self.raw.len() < len + slack {
            self.raw = vec![T::ZERO; len + slack];
        }
        let off = self.raw.as_ptr().align_offset(ALIGN_BYTES).min(slack);
        &mut self.raw[off..off + len]
    }
}

/// The two packing buffers one thread needs: A's mc × kc block and B's kc × nc block.
#[derive(Debug, Default)]
pub struct PackBuffers<T> {
    /// A's mc × kc block, in mr-row slivers.
    pub a: AlignedBuf<T>,
    /// B's kc × nc block, in nr-column slivers.
    pub b: AlignedBuf<T>,
}

/// Number of panels of `width` needed to cover `n`.
pub fn panels(n: usize, width: usize) -> usize {
    n.div_ceil(width)
}

/// Packs `src` (rows × k) into panels of `width` rows, each stored column by column:
/// panel q holds, for p = 0..k, the `width` values `src[q·width + i, p]` (i < width),
/// zero-filled past the last row so the kernel can always compute a full tile.
///
/// For A this is called on the mc × kc block with `width = mr`; for B on the transposed
/// kc × nc block (a view, no copy) with `width = nr`. `out` must hold
/// `panels(rows, width) · width · k` elements.
pub fn pack_panels<T: Float>(src: MatRef<'_, T>, width: usize, out: &mut [T]) {
    let (rows, k) = src.shape();
    let need = panels(rows, width) * width * k;
    assert!(out.len() >= need, "pack_panels: output buffer too short");
    if k == 0 {
        return;
    }
    // A compile-time width lets LLVM unroll the per-p group copy; these are the kernels' tiles.
    match width {
        4 => pack_fixed::<T, 4>(src, &mut out[..need]),
        6 => pack_fixed::<T, 6>(src, &mut out[..need]),
        8 => pack_fixed::<T, 8>(src, &mut out[..need]),
        16 => pack_fixed::<T, 16>(src, &mut out[..need]),
        32 => pack_fixed::<T, 32>(src, &mut out[..need]),
        _ => pack_any(src, width, &mut out[..need]),
    }
}

/// [`pack_panels`] for a width known at compile time.
fn pack_fixed<T: Float, const W: usize>(src: MatRef<'_, T>, out: &mut [T]) {
    let (rows, k) = src.shape();
    let (rs, cs) = (src.rs(), src.cs());
    let data = src.data();
    for (q, panel) in out.chunks_exact_mut(W * k).enumerate() {
        let r0 = q * W;
        let live = W.min(rows - r0);
        if rs == 1 {
            // The panel's values for each p are contiguous in src (B row-major, viewed
            // transposed): one short memcpy per p, zeros past the last live row.
            for (p, group) in panel.chunks_exact_mut(W).enumerate() {
                let from = r0 + p * cs;
                copy_group::<T, W>(group, &data[from..from + live]);
            }
        } else if cs == 1 {
            // Each live row is contiguous (A row-major).
            pack_row_slices::<T, W>(|i| &data[(r0 + i) * rs..(r0 + i) * rs + k], live, k, panel);
        } else {
            pack_any(src.sub(r0, 0, live, k), W, panel);
        }
    }
}

/// One group of a panel: the `live` values of `src`, zeros after them up to `W`. A full group
/// is a fixed-length copy, which LLVM inlines as a few vector moves.
#[inline]
pub fn copy_group<T: Float, const W: usize>(group: &mut [T], src: &[T]) {
    if src.len() == W {
        group.copy_from_slice(&src[..W]);
    } else {
        group[..src.len()].copy_from_slice(src);
        group[src.len()..].fill(T::ZERO);
    }
}

/// One panel of `W` rows from `live` contiguous row slices (`row(i)`, each `k` long, i < live):
/// for each p the `W` values `row(i)[p]`, rows past `live` as zeros. Slicing the rows once
/// lets LLVM drop the bounds checks of the gather; it is a transposition, done in 8×8 register
/// blocks where [`Float::pack_rows_simd`] can.
pub fn pack_row_slices<'a, T: Float, const W: usize>(
    row: impl Fn(usize) -> &'a [T],
    live: usize,
    k: usize,
    panel: &mut [T],
) {
    let zeros = vec![T::ZERO; if live < W { k } else { 0 }];
    let srcs: [&[T]; W] = std::array::from_fn(|i| if i < live { row(i) } else { &zeros[..] });
    if !T::pack_rows_simd(&srcs, k, panel) {
        for (p, group) in panel.chunks_exact_mut(W).enumerate() {
            for (dst, row) in group.iter_mut().zip(&srcs) {
                *dst = row[p];
            }
        }
    }
}

/// [`Float::pack_rows_simd`] for f32: rows gathered into groups is a transposition, which
/// value by value costs a load and a store per element; the AVX2 kernel transposes 8×8 blocks in
/// registers (`kernel::avx2::transpose_rows_f32`). It serves the operands that arrive
/// transposed — a conv layer's colᵀ in dW, an affine layer's Wᵀ in dx.
pub fn pack_rows_f32(rows: &[&[f32]], k: usize, out: &mut [f32]) -> bool {
    #[cfg(target_arch = "x86_64")]
    if rows.len().is_multiple_of(8)
        && k >= 8
        && let Some(token) = super::dispatch::avx2_fma()
    {
        super::kernel::avx2::transpose_rows_f32(token, rows, k, out);
        return true;
    }
    let _ = (rows, k, out);
    false
}

/// [`Float::pack_rows_simd`] where no SIMD path exists (f64): always the caller's loop.
pub fn pack_rows_scalar<T>(_rows: &[&[T]], _k: usize, _out: &mut [T]) -> bool {
    false
}

/// [`pack_panels`] for any width and layout, element by element (ragged last panels too).
fn pack_any<T: Float>(src: MatRef<'_, T>, width: usize, out: &mut [T]) {
    let (rows, k) = src.shape();
    for (q, panel) in out.chunks_exact_mut(width * k).enumerate() {
        let r0 = q * width;
        let live = width.min(rows - r0);
        for (p, group) in panel.chunks_exact_mut(width).enumerate() {
            for (i, dst) in group.iter_mut().enumerate() {
                *dst = if i < live { src.at(r0 + i, p) } else { T::ZERO };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::Matrix;

    #[test]
    fn packs_rows_and_pads_with_zeros() {
        // 3×2 source, panels of 2 rows: panel 0 = rows 0,1; panel 1 = row 2 + zero row.
        let m = Matrix::from_vec(3, 2, vec![1.0_f32, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
        let mut out = vec![f32::NAN; 8];
        pack_panels(m.view(), 2, &mut out);
        assert_eq!(out, vec![1.0, 3.0, 2.0, 4.0, 5.0, 0.0, 6.0, 0.0]);
        // The same through a transposed view of the transpose takes the strided path.
        let t = m.transpose();
        let mut out2 = vec![f32::NAN; 8];
        pack_panels(t.t(), 2, &mut out2);
        assert_eq!(out, out2);
    }

    #[test]
    fn compile_time_widths_pad_ragged_panels_like_the_general_path() {
        // 13 rows in panels of 8 and 32: the last panel of 8 and the only panel of 32 are
        // ragged; both layouts (row-major A, B viewed transposed) against `pack_any`.
        let m = Matrix::from_vec(13, 5, (0..65).map(|v| v as f32 + 1.0).collect()).unwrap();
        let t = m.transpose();
        for width in [8, 32] {
            let need = panels(13, width) * width * 5;
            let mut want = vec![f32::NAN; need];
            pack_any(m.view(), width, &mut want);
            for src in [m.view(), t.t()] {
                let mut got = vec![f32::NAN; need];
                pack_panels(src, width, &mut got);
                assert_eq!(got, want, "width {width}");
            }
        }
    }

    #[test]
    fn aligned_buffer_is_aligned() {
        let mut buf = AlignedBuf::<f64>::default();
        for len in [1, 7, 100, 3] {
            let s = buf.slice_mut(len);
            assert_eq!(s.len(), len);
            assert_eq!(s.as_ptr() as usize % ALIGN_BYTES, 0);
        }
    }
}
