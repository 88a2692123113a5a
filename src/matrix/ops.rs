//! Element-wise arithmetic, row broadcasts, reductions and softmax: everything the layer stack
//! needs besides GEMM. In-place variants exist wherever a layer can reuse a buffer.

use super::gemm::{self, Kernel};
use super::{Float, Matrix, shape_str};
use crate::error::{Error, Result};

impl<T: Float> Matrix<T> {
    fn check_same_shape(&self, other: &Matrix<T>, op: &'static str) -> Result<()> {
        if self.shape() != other.shape() {
            return Err(Error::shape(
                op,
                shape_str(self.shape()),
                shape_str(other.shape()),
            ));
        }
        Ok(())
    }

    fn zip_with(&self, other: &Matrix<T>, op: &'static str, f: impl Fn(T, T) -> T) -> Result<Self> {
        self.check_same_shape(other, op)?;
        let data = self
            .data
            .iter()
            .zip(&other.data)
            .map(|(&a, &b)| f(a, b))
            .collect();
        Ok(Matrix {
            rows: self.rows,
            cols: self.cols,
            data,
        })
    }

    fn zip_in_place(
        &mut self,
        other: &Matrix<T>,
        op: &'static str,
        f: impl Fn(&mut T, T),
    ) -> Result<()> {
        self.check_same_shape(other, op)?;
        self.data
            .iter_mut()
            .zip(&other.data)
            .for_each(|(a, &b)| f(a, b));
        Ok(())
    }

    /// `self + other`, element-wise.
    pub fn add(&self, other: &Matrix<T>) -> Result<Self> {
        self.zip_with(other, "add", |a, b| a + b)
    }

    /// `self - other`, element-wise.
    pub fn sub(&self, other: &Matrix<T>) -> Result<Self> {
        self.zip_with(other, "sub", |a, b| a - b)
    }

    /// `self ⊙ other` (Hadamard product).
    pub fn mul(&self, other: &Matrix<T>) -> Result<Self> {
        self.zip_with(other, "mul", |a, b| a * b)
    }

    /// `self += other`.
    pub fn add_assign(&mut self, other: &Matrix<T>) -> Result<()> {
        self.zip_in_place(other, "add_assign", |a, b| *a += b)
    }

    /// `self -= other`.
    pub fn sub_assign(&mut self, other: &Matrix<T>) -> Result<()> {
        self.zip_in_place(other, "sub_assign", |a, b| *a -= b)
    }

    /// `self ⊙= other`.
    pub fn mul_assign(&mut self, other: &Matrix<T>) -> Result<()> {
        self.zip_in_place(other, "mul_assign", |a, b| *a *= b)
    }

    /// `s · self`.
    pub fn scale(&self, s: T) -> Self {
        self.map(|x| x * s)
    }

    /// `self ← s · self`.
    pub fn scale_in_place(&mut self, s: T) {
        self.map_in_place(|x| x * s);
    }

    /// A new matrix with `f` applied to every element.
    pub fn map(&self, f: impl Fn(T) -> T) -> Self {
        Matrix {
            rows: self.rows,
            cols: self.cols,
            data: self.data.iter().map(|&x| f(x)).collect(),
        }
    }

    /// Applies `f` to every element in place.
    pub fn map_in_place(&mut self, f: impl Fn(T) -> T) {
        self.data.iter_mut().for_each(|x| *x = f(*x));
    }

    /// `out[i] = f(self[i])` for every element, reusing `out`'s allocation (an activation's
    /// forward pass).
    pub fn map_into(&self, out: &mut Matrix<T>, f: impl Fn(T) -> T) {
        out.ensure_shape(self.rows, self.cols);
        for (o, &x) in out.data.iter_mut().zip(&self.data) {
            *o = f(x);
        }
    }

    /// `out[i] = f(self[i], other[i])`, reusing `out`'s allocation (an activation's backward
    /// pass: `dx = f(dout, out)`). Panics if the shapes differ (a layer bug, not user input).
    pub fn zip_map_into(&self, other: &Matrix<T>, out: &mut Matrix<T>, f: impl Fn(T, T) -> T) {
        assert_eq!(self.shape(), other.shape(), "zip_map_into: shapes differ");
        out.ensure_shape(self.rows, self.cols);
        for ((o, &a), &b) in out.data.iter_mut().zip(&self.data).zip(&other.data) {
            *o = f(a, b);
        }
    }

    /// Adds the row vector `row` (length `cols`) to every row: the bias of an affine layer.
    pub fn add_row_in_place(&mut self, row: &[T]) -> Result<()> {
        if row.len() != self.cols {
            return Err(Error::shape(
                "add_row",
                format!("a row of {} elements", self.cols),
                format!("{} elements", row.len()),
            ));
        }
        if self.cols == 0 {
            return Ok(());
        }
        for r in self.data.chunks_exact_mut(self.cols) {
            r.iter_mut().zip(row).for_each(|(x, &b)| *x += b);
        }
        Ok(())
    }

    /// The sum of each column (length `cols`): the bias gradient `db = Σᵢ dout[i, :]`.
    pub fn sum_cols(&self) -> Vec<T> {
        let mut out = vec![T::ZERO; self.cols];
        self.sum_cols_into(&mut out);
        out
    }

    /// [`Matrix::sum_cols`] into a caller's buffer (no allocation). Panics on a length mismatch.
    pub fn sum_cols_into(&self, out: &mut [T]) {
        assert_eq!(out.len(), self.cols, "sum_cols_into: output length");
        out.iter_mut().for_each(|x| *x = T::ZERO);
        if self.cols == 0 {
            return;
        }
        for r in self.data.chunks_exact(self.cols) {
            out.iter_mut().zip(r).for_each(|(o, &x)| *o += x);
        }
    }

    /// The sum of all elements.
    pub fn sum(&self) -> T {
        self.data.iter().copied().sum()
    }

    /// The largest element of each row (−∞ for an empty row).
    pub fn row_max(&self) -> Vec<T> {
        (0..self.rows)
            .map(|i| {
                self.row(i)
                    .iter()
                    .fold(T::from_f64(f64::NEG_INFINITY), |m, &x| m.max(x))
            })
            .collect()
    }

    /// The column index of the largest element of each row (the first one on ties; 0 if empty).
    pub fn row_argmax(&self) -> Vec<usize> {
        (0..self.rows)
            .map(|i| {
                let mut best = 0;
                for (j, &x) in self.row(i).iter().enumerate() {
                    if x > self.row(i)[best] {
                        best = j;
                    }
                }
                best
            })
            .collect()
    }

    /// Row-wise softmax, stable for large inputs: each row's max is subtracted before `exp`.
    pub fn softmax_rows(&self) -> Self {
        let mut out = self.clone();
        out.softmax_rows_in_place();
        out
    }

    /// Row-wise softmax in place.
    pub fn softmax_rows_in_place(&mut self) {
        if self.cols == 0 {
            return;
        }
        for r in self.data.chunks_exact_mut(self.cols) {
            softmax_in_place(r);
        }
    }

    /// `self · other` with the fastest GEMM rung for the shape (a new matrix).
    pub fn matmul(&self, other: &Matrix<T>) -> Result<Self> {
        let mut out = Matrix::zeros(self.rows, other.cols);
        gemm::gemm(
            Kernel::Auto,
            T::ONE,
            self.view(),
            other.view(),
            T::ZERO,
            out.view_mut(),
        )?;
        Ok(out)
    }
}

/// Softmax of one row in place, stable for large inputs: the row's max is subtracted before
/// `exp`, so every `exp` is at most 1. Returns that max and Σ exp(x − max), from which a caller
/// gets log-softmax exactly as `x − max − ln(sum)` (what the loss layer needs).
pub fn softmax_in_place<T: Float>(row: &mut [T]) -> (T, T) {
    let max = row
        .iter()
        .fold(T::from_f64(f64::NEG_INFINITY), |m, &x| m.max(x));
    let mut sum = T::ZERO;
    for x in row.iter_mut() {
        *x = (*x - max).exp();
        sum += *x;
    }
    row.iter_mut().for_each(|x| *x /= sum);
    (max, sum)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(rows: usize, cols: usize, v: &[f64]) -> Matrix<f64> {
        Matrix::from_vec(rows, cols, v.to_vec()).unwrap()
    }

    #[test]
    fn elementwise_and_shape_errors() {
        let a = m(2, 2, &[1.0, 2.0, 3.0, 4.0]);
        let b = m(2, 2, &[5.0, 6.0, 7.0, 8.0]);
        assert_eq!(a.add(&b).unwrap().as_slice(), &[6.0, 8.0, 10.0, 12.0]);
        assert_eq!(b.sub(&a).unwrap().as_slice(), &[4.0; 4]);
        assert_eq!(a.mul(&b).unwrap().as_slice(), &[5.0, 12.0, 21.0, 32.0]);
        let c = m(1, 4, &[0.0; 4]);
        let err = a.add(&c).unwrap_err().to_string();
        assert!(err.contains("2×2") && err.contains("1×4"), "{err}");
        let mut d = a.clone();
        d.scale_in_place(2.0);
        assert_eq!(d.as_slice(), a.scale(2.0).as_slice());
        d.sub_assign(&a).unwrap();
        assert_eq!(d, a);
    }

    #[test]
    fn broadcasts_and_reductions() {
        let mut a = m(2, 3, &[1.0, 5.0, 3.0, -1.0, -2.0, -3.0]);
        assert_eq!(a.sum_cols(), vec![0.0, 3.0, 0.0]);
        assert_eq!(a.row_max(), vec![5.0, -1.0]);
        assert_eq!(a.row_argmax(), vec![1, 0]);
        a.add_row_in_place(&[1.0, 1.0, 1.0]).unwrap();
        assert_eq!(a.row(1), &[0.0, -1.0, -2.0]);
        assert!(a.add_row_in_place(&[1.0]).is_err());
    }

    #[test]
    fn softmax_is_stable_and_normalised() {
        let a = m(2, 3, &[1000.0, 1001.0, 1002.0, -1e4, 0.0, 1.0]);
        let s = a.softmax_rows();
        for i in 0..2 {
            let sum: f64 = s.row(i).iter().sum();
            assert!((sum - 1.0).abs() < 1e-12);
            assert!(s.row(i).iter().all(|x| x.is_finite()));
        }
        // Shift invariance: softmax(x + c) = softmax(x).
        let b = m(1, 3, &[0.0, 1.0, 2.0]).softmax_rows();
        for j in 0..3 {
            assert!((s.get(0, j) - b.get(0, j)).abs() < 1e-12);
        }
    }

    #[test]
    fn transpose_and_cast_round_trip() {
        let a = Matrix::<f32>::from_fn(37, 41, |i, j| (i * 41 + j) as f32);
        let t = a.transpose();
        assert_eq!(t.shape(), (41, 37));
        assert_eq!(t.get(5, 7), a.get(7, 5));
        assert_eq!(t.transpose(), a);
        assert_eq!(a.t().to_matrix(), t);
        assert_eq!(a.cast::<f64>().cast::<f32>(), a);
        assert!(Matrix::<f32>::from_vec(2, 2, vec![0.0; 3]).is_err());
    }
}
