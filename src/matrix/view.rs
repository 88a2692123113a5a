//! Strided views: a [`MatRef`] / [`MatMut`] borrows any window of a matrix's storage with row
//! and column strides (`rs`, `cs`), so a transpose, a block or a band of rows is a view, never
//! a copy. Every GEMM rung reads and writes through them.

use super::{Float, Matrix};
use crate::error::{Error, Result};

/// A read-only strided view: element (i, j) is `data[i * rs + j * cs]`.
#[derive(Clone, Copy, Debug)]
pub struct MatRef<'a, T> {
    pub(super) data: &'a [T],
    pub(super) rows: usize,
    pub(super) cols: usize,
    pub(super) rs: usize,
    pub(super) cs: usize,
}

/// Checks that a `rows`×`cols` view with strides (`rs`, `cs`) fits inside `len` elements.
fn check_extent(
    op: &'static str,
    len: usize,
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
) -> Result<()> {
    if rows == 0 || cols == 0 {
        return Ok(());
    }
    let last = (rows - 1)
        .checked_mul(rs)
        .and_then(|r| (cols - 1).checked_mul(cs).and_then(|c| r.checked_add(c)));
    match last {
        Some(last) if last < len => Ok(()),
        _ => Err(Error::shape(
            op,
            format!("a buffer covering {rows}×{cols} with strides ({rs}, {cs})"),
            format!("{len} elements"),
        )),
    }
}

impl<'a, T: Float> MatRef<'a, T> {
    /// A view of `rows`×`cols` elements of `data` with row stride `rs` and column stride `cs`.
    pub fn new(data: &'a [T], rows: usize, cols: usize, rs: usize, cs: usize) -> Result<Self> {
        check_extent("MatRef::new", data.len(), rows, cols, rs, cs)?;
        Ok(MatRef {
            data,
            rows,
            cols,
            rs,
            cs,
        })
    }

    /// The transposed view (swaps the shape and the strides).
    pub fn t(self) -> Self {
        MatRef {
            data: self.data,
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
        }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }
    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }
    /// (rows, cols).
    pub fn shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }
    /// Row stride.
    pub fn rs(&self) -> usize {
        self.rs
    }
    /// Column stride.
    pub fn cs(&self) -> usize {
        self.cs
    }
    /// The underlying buffer, starting at element (0, 0).
    pub fn data(&self) -> &'a [T] {
        self.data
    }

    /// Element (i, j); the caller keeps `i < rows`, `j < cols`.
    #[inline(always)]
    pub fn at(&self, i: usize, j: usize) -> T {
        self.data[i * self.rs + j * self.cs]
    }

    /// The sub-view starting at (i, j) of `rows`×`cols` elements.
    pub fn sub(&self, i: usize, j: usize, rows: usize, cols: usize) -> Self {
        assert!(
            i + rows <= self.rows && j + cols <= self.cols,
            "sub-view out of bounds"
        );
        let start = if rows == 0 || cols == 0 {
            0
        } else {
            i * self.rs + j * self.cs
        };
        MatRef {
            data: &self.data[start.min(self.data.len())..],
            rows,
            cols,
            rs: self.rs,
            cs: self.cs,
        }
    }

    /// Copies the view into a new row-major matrix.
    pub fn to_matrix(&self) -> Matrix<T> {
        Matrix::from_fn(self.rows, self.cols, |i, j| self.at(i, j))
    }
}

/// A mutable strided view. Its layout never aliases: rows (or columns) occupy disjoint ranges.
#[derive(Debug)]
pub struct MatMut<'a, T> {
    pub(super) data: &'a mut [T],
    pub(super) rows: usize,
    pub(super) cols: usize,
    pub(super) rs: usize,
    pub(super) cs: usize,
}

impl<'a, T: Float> MatMut<'a, T> {
    /// A mutable view of `rows`×`cols` elements of `data` with strides (`rs`, `cs`).
    ///
    /// Layouts where two elements would share memory are rejected: either each row or each
    /// column must occupy its own range (`(cols-1)·cs < rs` or `(rows-1)·rs < cs`).
    pub fn new(data: &'a mut [T], rows: usize, cols: usize, rs: usize, cs: usize) -> Result<Self> {
        check_extent("MatMut::new", data.len(), rows, cols, rs, cs)?;
        let rows_disjoint = rows <= 1 || cols.saturating_sub(1) * cs < rs;
        let cols_disjoint = cols <= 1 || rows.saturating_sub(1) * rs < cs;
        let non_degenerate = (cols <= 1 || cs > 0) && (rows <= 1 || rs > 0);
        if !(non_degenerate && (rows_disjoint || cols_disjoint)) {
            return Err(Error::shape(
                "MatMut::new",
                "strides whose elements do not overlap",
                format!("{rows}×{cols} with strides ({rs}, {cs})"),
            ));
        }
        Ok(MatMut {
            data,
            rows,
            cols,
            rs,
            cs,
        })
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }
    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }
    /// (rows, cols).
    pub fn shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }
    /// The row stride: elements from one row to the next.
    pub fn rs(&self) -> usize {
        self.rs
    }
    /// The column stride: elements from one column to the next.
    pub fn cs(&self) -> usize {
        self.cs
    }

    /// A shorter-lived mutable view of the same elements.
    pub fn rb_mut(&mut self) -> MatMut<'_, T> {
        MatMut {
            data: self.data,
            rows: self.rows,
            cols: self.cols,
            rs: self.rs,
            cs: self.cs,
        }
    }

    /// The transposed view.
    pub fn t(self) -> Self {
        MatMut {
            data: self.data,
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
        }
    }

    /// The underlying buffer, starting at element (0, 0).
    pub fn data_mut(&mut self) -> &mut [T] {
        self.data
    }

    /// Element (i, j); panics if it is out of range.
    #[inline(always)]
    pub fn at(&self, i: usize, j: usize) -> T {
        self.data[i * self.rs + j * self.cs]
    }

    /// Element (i, j), to change in place; panics if it is out of range.
    #[inline(always)]
    pub fn at_mut(&mut self, i: usize, j: usize) -> &mut T {
        &mut self.data[i * self.rs + j * self.cs]
    }

    /// Whether rows occupy disjoint, increasing ranges, so the view can be cut between rows.
    pub fn rows_are_disjoint(&self) -> bool {
        self.rows <= 1 || self.cols.saturating_sub(1) * self.cs < self.rs
    }

    /// Cuts the view before row `i` into two views that own disjoint memory.
    ///
    /// Returns `None` when rows interleave in memory (a column-major view: cut its transpose).
    pub fn split_rows_at(self, i: usize) -> Option<(MatMut<'a, T>, MatMut<'a, T>)> {
        assert!(i <= self.rows, "split point beyond the last row");
        if !self.rows_are_disjoint() {
            return None;
        }
        let at = (i * self.rs).min(self.data.len());
        let (top, bottom) = self.data.split_at_mut(at);
        let (rs, cs, cols) = (self.rs, self.cs, self.cols);
        Some((
            MatMut {
                data: top,
                rows: i,
                cols,
                rs,
                cs,
            },
            MatMut {
                data: bottom,
                rows: self.rows - i,
                cols,
                rs,
                cs,
            },
        ))
    }

    /// The sub-view starting at (i, j) of `rows`×`cols` elements.
    pub fn sub(self, i: usize, j: usize, rows: usize, cols: usize) -> MatMut<'a, T> {
        assert!(
            i + rows <= self.rows && j + cols <= self.cols,
            "sub-view out of bounds"
        );
        let start = if rows == 0 || cols == 0 {
            self.data.len()
        } else {
            i * self.rs + j * self.cs
        };
        MatMut {
            data: &mut self.data[start..],
            rows,
            cols,
            rs: self.rs,
            cs: self.cs,
        }
    }

    /// A read-only view of the same elements.
    pub fn as_ref(&self) -> MatRef<'_, T> {
        MatRef {
            data: self.data,
            rows: self.rows,
            cols: self.cols,
            rs: self.rs,
            cs: self.cs,
        }
    }

    /// C ← β·C, and when β = 0 overwrite with zeros without reading (so NaN in C is ignored).
    pub fn scale_by_beta(&mut self, beta: T) {
        for i in 0..self.rows {
            for j in 0..self.cols {
                let c = self.at_mut(i, j);
                *c = if beta == T::ZERO { T::ZERO } else { beta * *c };
            }
        }
    }
}
