//! `Matrix<T>`: owned, row-major, contiguous storage, and the strided views GEMM works on.
//!
//! A [`Matrix`] owns its elements; a [`MatRef`] / [`MatMut`] borrows any strided window of one.
//! Element (i, j) of a view lives at `data[i * rs + j * cs]`, so a transpose is a view with rows
//! and columns (and their strides) swapped: backprop's `Xᵀ·dY` and `dY·Wᵀ` never copy `X` or `W`.

pub mod float;
pub mod gemm;
pub mod half;
pub mod lanes;
mod ops;
mod view;

use rand::{Rng, RngExt};

pub use float::Float;
pub use ops::softmax_in_place;
pub use view::{MatMut, MatRef};

use crate::error::{Error, Result};

/// An owned, row-major, contiguous matrix of `f32` or `f64`.
///
/// ```
/// use scratchnet::Matrix;
/// let a = Matrix::from_vec(2, 3, vec![1.0_f32, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
/// let b = a.transpose();
/// let c = a.matmul(&b).unwrap(); // 2×3 · 3×2
/// assert_eq!(c.as_slice(), &[14.0, 32.0, 32.0, 77.0]);
/// ```
#[derive(Clone, PartialEq)]
pub struct Matrix<T> {
    rows: usize,
    cols: usize,
    data: Vec<T>,
}

impl<T> Default for Matrix<T> {
    /// The empty 0×0 matrix (an output buffer before its first use).
    fn default() -> Self {
        Matrix {
            rows: 0,
            cols: 0,
            data: Vec::new(),
        }
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for Matrix<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "Matrix {}×{} [", self.rows, self.cols)?;
        for row in self.data.chunks(self.cols.max(1)).take(self.rows) {
            writeln!(f, "  {row:?}")?;
        }
        write!(f, "]")
    }
}

/// Renders a shape as `rows×cols` for error messages.
pub(crate) fn shape_str((r, c): (usize, usize)) -> String {
    format!("{r}×{c}")
}

/// Two independent N(0, 1) samples from two uniform draws (Box–Muller, in f64): the one
/// normal sampler behind weight initialisation and the playground's noise.
pub fn gaussian_pair<R: Rng + ?Sized>(rng: &mut R) -> (f64, f64) {
    // 1 - u keeps the logarithm's argument in (0, 1].
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random::<f64>();
    let r = (-2.0 * u1.ln()).sqrt();
    let theta = std::f64::consts::TAU * u2;
    (r * theta.cos(), r * theta.sin())
}

impl<T: Float> Matrix<T> {
    /// A `rows`×`cols` matrix of zeros.
    pub fn zeros(rows: usize, cols: usize) -> Self {
        Self::filled(rows, cols, T::ZERO)
    }

    /// A `rows`×`cols` matrix with every element `value`.
    pub fn filled(rows: usize, cols: usize, value: T) -> Self {
        Matrix {
            rows,
            cols,
            data: vec![value; rows * cols],
        }
    }

    /// Wraps a row-major `Vec`; its length must be `rows * cols`.
    pub fn from_vec(rows: usize, cols: usize, data: Vec<T>) -> Result<Self> {
        if data.len() != rows * cols {
            return Err(Error::shape(
                "Matrix::from_vec",
                format!("{} elements for {}", rows * cols, shape_str((rows, cols))),
                format!("{} elements", data.len()),
            ));
        }
        Ok(Matrix { rows, cols, data })
    }

    /// A matrix whose element (i, j) is `f(i, j)`.
    pub fn from_fn(rows: usize, cols: usize, mut f: impl FnMut(usize, usize) -> T) -> Self {
        let mut data = Vec::with_capacity(rows * cols);
        for i in 0..rows {
            for j in 0..cols {
                data.push(f(i, j));
            }
        }
        Matrix { rows, cols, data }
    }

    /// Samples from N(mean, std²) with the caller's RNG (Box–Muller, computed in f64).
    pub fn random_normal<R: Rng + ?Sized>(
        rows: usize,
        cols: usize,
        mean: f64,
        std: f64,
        rng: &mut R,
    ) -> Self {
        let n = rows * cols;
        let mut data = Vec::with_capacity(n);
        while data.len() < n {
            let (a, b) = gaussian_pair(rng);
            data.push(T::from_f64(mean + std * a));
            if data.len() < n {
                data.push(T::from_f64(mean + std * b));
            }
        }
        Matrix { rows, cols, data }
    }

    /// Samples uniformly from `[low, high)` with the caller's RNG.
    pub fn random_uniform<R: Rng + ?Sized>(
        rows: usize,
        cols: usize,
        low: f64,
        high: f64,
        rng: &mut R,
    ) -> Self {
        let data = (0..rows * cols)
            .map(|_| T::from_f64(low + (high - low) * rng.random::<f64>()))
            .collect();
        Matrix { rows, cols, data }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// `(rows, cols)`.
    pub fn shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// Number of elements, rows × cols.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether it has no elements (a dimension is 0).
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Makes this a `rows`×`cols` matrix, reusing the allocation when it is big enough. The
    /// contents are unspecified afterwards: this is for output buffers about to be overwritten.
    pub fn ensure_shape(&mut self, rows: usize, cols: usize) {
        self.rows = rows;
        self.cols = cols;
        self.data.resize(rows * cols, T::ZERO);
    }

    /// Copies the rows listed in `indices` into `self` (a mini-batch gather, no allocation in
    /// steady state).
    pub fn gather_rows_from(&mut self, src: &Matrix<T>, indices: &[usize]) {
        self.ensure_shape(indices.len(), src.cols);
        if src.cols == 0 {
            return;
        }
        // First read one value of every row, then copy the rows. The hundred independent
        // loads start every row's trip from memory (and its page walk) at once; copying row
        // after row alone starts them one at a time, since a row's copy waits for its first
        // line. MNIST batch of 100 (`train --profile`, Xeon VM): 67 → 48 µs per gather.
        let mut touched = T::ZERO;
        for &i in indices {
            touched += src.row(i)[0];
        }
        std::hint::black_box(touched);
        for (dst, &i) in self.data.chunks_exact_mut(src.cols).zip(indices) {
            dst.copy_from_slice(src.row(i));
        }
    }

    /// Copies columns `start..end` into `out` (`rows × (end − start)`), reusing its allocation.
    pub fn cols_into(&self, start: usize, end: usize, out: &mut Matrix<T>) {
        assert!(
            start <= end && end <= self.cols,
            "columns {start}..{end} of {}",
            self.cols
        );
        out.ensure_shape(self.rows, end - start);
        if out.cols == 0 {
            return;
        }
        for (dst, src) in out
            .data
            .chunks_exact_mut(end - start)
            .zip(self.data.chunks_exact(self.cols))
        {
            dst.copy_from_slice(&src[start..end]);
        }
    }

    /// Overwrites the columns from `start` on with `src`, which has as many rows.
    pub fn set_cols(&mut self, start: usize, src: &Matrix<T>) {
        assert!(
            src.rows == self.rows && start + src.cols <= self.cols,
            "{}×{} at column {start} of {}×{}",
            src.rows,
            src.cols,
            self.rows,
            self.cols
        );
        if src.cols == 0 {
            return;
        }
        for (dst, src) in self
            .data
            .chunks_exact_mut(self.cols)
            .zip(src.data.chunks_exact(src.cols))
        {
            dst[start..start + src.len()].copy_from_slice(src);
        }
    }

    /// Copies `src` into `self`, reusing the allocation.
    pub fn copy_from(&mut self, src: &Matrix<T>) {
        self.ensure_shape(src.rows, src.cols);
        self.data.copy_from_slice(&src.data);
    }

    /// A new matrix holding rows `start..end`.
    pub fn rows_range(&self, start: usize, end: usize) -> Self {
        Matrix {
            rows: end - start,
            cols: self.cols,
            data: self.data[start * self.cols..end * self.cols].to_vec(),
        }
    }

    /// All elements, row-major.
    pub fn as_slice(&self) -> &[T] {
        &self.data
    }

    /// The elements, row after row, to change in place.
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        &mut self.data
    }

    /// The elements, row after row, without copying them.
    pub fn into_vec(self) -> Vec<T> {
        self.data
    }

    /// Row `i` as a slice. Panics if `i >= rows` (an indexing bug, not user input).
    pub fn row(&self, i: usize) -> &[T] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// Row `i`, to change in place; panics if `i` is out of range.
    pub fn row_mut(&mut self, i: usize) -> &mut [T] {
        &mut self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// Element (i, j).
    pub fn get(&self, i: usize, j: usize) -> T {
        assert!(i < self.rows && j < self.cols, "index out of bounds");
        self.data[i * self.cols + j]
    }

    /// Sets element (i, j); panics if it is out of range.
    pub fn set(&mut self, i: usize, j: usize, value: T) {
        assert!(i < self.rows && j < self.cols, "index out of bounds");
        self.data[i * self.cols + j] = value;
    }

    /// A new matrix holding the rows listed in `indices` (a mini-batch gather).
    pub fn select_rows(&self, indices: &[usize]) -> Self {
        let mut out = Matrix::zeros(0, self.cols);
        out.gather_rows_from(self, indices);
        out
    }

    /// The transpose as a new, row-major matrix. GEMM does not need this (use [`Matrix::t`]).
    pub fn transpose(&self) -> Self {
        let mut out = Matrix::zeros(self.cols, self.rows);
        // Walk the source row by row in tiles so both sides stay in cache.
        const TILE: usize = 32;
        for i0 in (0..self.rows).step_by(TILE) {
            for j0 in (0..self.cols).step_by(TILE) {
                for i in i0..(i0 + TILE).min(self.rows) {
                    for j in j0..(j0 + TILE).min(self.cols) {
                        out.data[j * self.rows + i] = self.data[i * self.cols + j];
                    }
                }
            }
        }
        out
    }

    /// A read-only view of the whole matrix.
    pub fn view(&self) -> MatRef<'_, T> {
        MatRef {
            data: &self.data,
            rows: self.rows,
            cols: self.cols,
            rs: self.cols,
            cs: 1,
        }
    }

    /// The transpose as a view: no copy.
    pub fn t(&self) -> MatRef<'_, T> {
        self.view().t()
    }

    /// A mutable view of the whole matrix.
    pub fn view_mut(&mut self) -> MatMut<'_, T> {
        MatMut {
            rows: self.rows,
            cols: self.cols,
            rs: self.cols,
            cs: 1,
            data: &mut self.data,
        }
    }

    /// Converts every element to another float type (`f32` ↔ `f64`).
    pub fn cast<U: Float>(&self) -> Matrix<U> {
        Matrix {
            rows: self.rows,
            cols: self.cols,
            data: self.data.iter().map(|&x| x.cast()).collect(),
        }
    }
}
