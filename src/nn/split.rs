//! An MLP's first affine layer split by its output columns between two cores for a run of
//! training steps: data affinity.
//!
//! Why. Two threads through the GEMM pool made the textbook's T3 network (784-100-50-10,
//! batch 100) no faster than one on the Sapphire Rapids VM: each product's split ships the
//! packed weights and a band of the batch to the other core and a band of the result back,
//! ~10 GB/s between the private L2 caches, and the weight update then pulls the weights back to
//! the caller (docs/gemm.md, rung 6). Here the data stays put instead. The partner thread owns
//! the right half of the first layer's columns — its weights, gradients and optimizer state —
//! for a whole epoch, and gathers the batch's rows from the training set itself, in parallel
//! with the caller. Per step only the partner's slice of the layer's output (N × n/2) crosses
//! to the caller, and that slice's gradient crosses back:
//!
//! ```text
//!  caller                                  partner (its W columns, dW, optimizer slots)
//!  ──────                                  ───────
//!  send batch rows ───────────────────────▶ gather x
//!  gather x                                 out_r = x·W_r + b_r
//!  out_l = x·W_l + b_l
//!  out = [out_l | out_r] ◀───────────────── out_r
//!  the other layers, loss, backward
//!  dout_r ────────────────────────────────▶ dW_r = xᵀ·dout_r, db_r, update W_r, b_r
//!  dW_l = xᵀ·dout_l, db_l, update the rest  (overlaps with the caller's update and gather)
//! ```
//!
//! **Same bits.** A column of `x·W` is the same dot products whichever columns sit beside it
//! (the GEMM sums over k in the same kc slices for any n), the bias, gradients and every
//! optimizer update act on each element alone, and the partner steps its optimizer with the
//! caller's step count. So a split run gives the bits of a one-thread run. Weight decay is the
//! exception, in the reported loss only: ½λ‖W‖² summed over two halves adds in another order,
//! so a network with weight decay is not split.

use std::sync::mpsc::{self, Receiver, Sender};

use super::affine::Affine;
use super::network::BatchEdit;
use super::{Layer, Mode};
use crate::matrix::gemm::pool;
use crate::matrix::{Float, Matrix};

/// The least work, batch × in × out multiply-adds of the layer's forward product, worth a
/// split. Measured on the Xeon VM (SGD, 4000 steps, one thread's time over two threads'):
/// 784 → 50 at batch 100 (3.9 M) 1.40×, 784 → 100 at batch 20 (1.6 M) 1.30× and at batch 10
/// (0.78 M) 1.27×, but 784 → 10 at batch 100 (0.78 M, five columns a side) 1.03× and
/// 784 → 30 at batch 10 (0.24 M) 0.97×: from about a million multiply-adds on it pays.
pub const SPLIT_MIN_MACS: usize = 1 << 20;

/// Where the first layer was cut: its weight is `rows × cols`, the caller keeps the first
/// `left` columns, the partner the rest. Parameter 0 is the weight, parameter 1 the bias.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ColumnCut {
    /// Rows of the whole weight (the layer's inputs).
    pub rows: usize,
    /// Columns of the whole weight (its outputs).
    pub cols: usize,
    /// Columns kept by the caller's thread.
    pub left: usize,
}

impl ColumnCut {
    /// Columns the partner holds.
    pub fn right(&self) -> usize {
        self.cols - self.left
    }
}

/// How many of a first layer's `cols` output columns the caller keeps, for a kernel whose
/// column panels are `nr` wide: the cut that gives the more loaded side the least work, and
/// among those the caller the least, then the one nearest the middle.
///
/// Work here is counted in panels as the GEMM runs them: a whole panel costs 1 and a last
/// partial one ½ if it fits the half-width tile (≤ nr/2 columns), else 1 like a whole one. The
/// caller's side counts for more than the partner's because the caller alone runs the layers
/// above between forward and backward (the partner waits then). 784 → 100 with 32-wide panels:
/// 50 | 50 is 2 panels a side (32 + 18, the 18 a full panel's work); 48 | 52 gives the partner
/// the same 2 and the caller 1½. Measured on the Zen 4 VM (T3, 2 threads, 3000 steps, three
/// alternated runs): 0.88–0.91 s at 50 | 50, 0.80–0.82 at 48 | 52 (and 0.78–0.85 at 40 | 60,
/// the same cost here, 0.92–0.98 at 32 | 68, 2½ for the partner). T2's 784 → 50 stays 25 | 25
/// (16 | 34 was slower: 0.55–0.59 s against 0.44–0.45). A column of x·W is the same sums
/// wherever the cut is, so it changes no bit.
pub fn caller_columns(cols: usize, nr: usize) -> usize {
    let nr = nr.max(2);
    let cost = |c: usize| {
        let rem = c % nr;
        2 * (c / nr)
            + match rem {
                0 => 0,
                r if r <= nr / 2 => 1,
                _ => 2,
            }
    };
    (1..cols)
        .min_by_key(|&left| {
            let (l, r) = (cost(left), cost(cols - left));
            (l.max(r), l, left.abs_diff(cols / 2))
        })
        .unwrap_or(cols / 2)
}

/// Splits a row-major matrix of `cols` columns into its first `left` columns and the rest.
pub fn split_cols<T: Copy>(v: &[T], cols: usize, left: usize) -> (Vec<T>, Vec<T>) {
    assert!(left <= cols && cols > 0 && v.len().is_multiple_of(cols));
    let rows = v.len() / cols;
    let (mut l, mut r) = (
        Vec::with_capacity(rows * left),
        Vec::with_capacity(rows * (cols - left)),
    );
    for row in v.chunks_exact(cols) {
        l.extend_from_slice(&row[..left]);
        r.extend_from_slice(&row[left..]);
    }
    (l, r)
}

/// The inverse of [`split_cols`]: rows of `left` columns beside rows of `right` columns.
pub fn join_cols<T: Copy>(l: &[T], r: &[T], left: usize, right: usize) -> Vec<T> {
    let rows = (l.len() + r.len()) / (left + right).max(1);
    assert!(l.len() == rows * left && r.len() == rows * right);
    let mut out = Vec::with_capacity(rows * (left + right));
    for i in 0..rows {
        out.extend_from_slice(&l[i * left..(i + 1) * left]);
        out.extend_from_slice(&r[i * right..(i + 1) * right]);
    }
    out
}

/// What the caller asks of the partner.
pub(crate) enum Job<T> {
    /// Gather these training rows, edit them as step `step`'s batch, and run forward on them
    /// into `out` (a buffer that travels).
    Forward {
        rows: Vec<usize>,
        step: usize,
        out: Matrix<T>,
    },
    /// The gradient of the partner's columns: run backward, then the optimizer.
    Backward { dout: Matrix<T> },
    /// Gather these training rows into a spare buffer now, for a `Forward` of the same rows
    /// to use (no reply).
    Prefetch { rows: Vec<usize> },
}

/// What the partner hands back: the buffers of the jobs, filled.
pub(crate) enum Reply<T> {
    Forward { rows: Vec<usize>, out: Matrix<T> },
    Backward { dout: Matrix<T> },
}

/// The caller's side of a split: the whole first layer parked, the channels, and the buffers
/// that travel (each `None` while the partner has it).
pub(crate) struct Link<T: Float> {
    /// The first layer as it was before the split; its values come back at [`Link::rejoin`].
    pub parked: Box<dyn Layer<T>>,
    pub cut: ColumnCut,
    jobs: Sender<Job<T>>,
    replies: Receiver<Reply<T>>,
    /// The caller's columns of the layer's output and of its gradient.
    pub out_left: Matrix<T>,
    pub dout_left: Matrix<T>,
    out_right: Option<Matrix<T>>,
    dout_right: Option<Matrix<T>>,
    rows: Option<Vec<usize>>,
    /// Whether the partner has been sent a batch whose forward has not been collected.
    pending: bool,
}

/// The partner thread's side: the right columns of the layer and its copy of the batch.
pub struct Partner<T: Float> {
    layer: Affine<T>,
    jobs: Receiver<Job<T>>,
    replies: Sender<Reply<T>>,
    x: Matrix<T>,
    /// A batch gathered ahead (`Job::Prefetch`), and its rows (empty when there is none).
    x_next: Matrix<T>,
    next_rows: Vec<usize>,
}

/// Cuts `whole` (the first layer: weight `cut.rows × cut.cols`, bias `1 × cut.cols`, read
/// through its parameter visitor) into the caller's and the partner's affine layers, each
/// running its GEMMs on one thread; `whole` is parked in the link.
pub(crate) fn cut_layer<T: Float>(
    mut whole: Box<dyn Layer<T>>,
    cut: ColumnCut,
) -> (Affine<T>, Link<T>, Partner<T>) {
    let mut halves = Vec::new();
    whole.visit_params(&mut |p| halves.push(split_cols(p.value, cut.cols, cut.left)));
    let [(w_l, w_r), (b_l, b_r)] = <[_; 2]>::try_from(halves).expect("an affine layer: W and b");
    let affine = |w: Vec<T>, b: Vec<T>, cols: usize| {
        let mut layer = Affine::new(
            Matrix::from_vec(cut.rows, cols, w).expect("the cut's shape"),
            1,
        );
        layer.b = Matrix::from_vec(1, cols, b).expect("the cut's shape");
        layer
    };
    let left = affine(w_l, b_l, cut.left);
    let right = affine(w_r, b_r, cut.right());
    let (job_tx, job_rx) = mpsc::channel();
    let (reply_tx, reply_rx) = mpsc::channel();
    let link = Link {
        parked: whole,
        cut,
        jobs: job_tx,
        replies: reply_rx,
        out_left: Matrix::zeros(0, 0),
        dout_left: Matrix::zeros(0, 0),
        out_right: Some(Matrix::zeros(0, 0)),
        dout_right: Some(Matrix::zeros(0, 0)),
        rows: Some(Vec::new()),
        pending: false,
    };
    let partner = Partner {
        layer: right,
        jobs: job_rx,
        replies: reply_tx,
        x: Matrix::zeros(0, 0),
        x_next: Matrix::zeros(0, 0),
        next_rows: Vec::new(),
    };
    (left, link, partner)
}

impl<T: Float> Link<T> {
    /// Sends the partner the rows of the next batch (before the caller gathers its own copy,
    /// so the two gathers overlap).
    pub fn send_batch(&mut self, rows: &[usize], step: usize) {
        let mut buf = self
            .rows
            .take()
            .expect("the rows buffer is home between batches");
        buf.clear();
        buf.extend_from_slice(rows);
        let out = self.out_right.take().expect("the output buffer is home");
        self.jobs
            .send(Job::Forward {
                rows: buf,
                step,
                out,
            })
            .expect("the first layer's partner thread stopped");
        self.pending = true;
    }

    /// Asks the partner to gather `rows` now, ahead of the batch that will use them.
    pub fn send_prefetch(&mut self, rows: &[usize]) {
        self.jobs
            .send(Job::Prefetch {
                rows: rows.to_vec(),
            })
            .expect("the first layer's partner thread stopped");
    }

    /// Waits for the partner's columns of the batch sent last and writes them, beside the
    /// caller's `out_left`, into `out`.
    pub fn collect_forward(&mut self, out: &mut Matrix<T>) {
        assert!(
            self.pending,
            "a split first layer runs forward only on batches sent with Network::gather_batch"
        );
        self.pending = false;
        loop {
            match pool::receive(&self.replies).expect("the first layer's partner thread stopped") {
                Reply::Backward { dout } => self.dout_right = Some(dout),
                Reply::Forward { rows, out: right } => {
                    out.ensure_shape(self.out_left.rows(), self.cut.cols);
                    out.set_cols(0, &self.out_left);
                    out.set_cols(self.cut.left, &right);
                    self.rows = Some(rows);
                    self.out_right = Some(right);
                    return;
                }
            }
        }
    }

    /// Splits the layer's output gradient: the partner's columns go to it (which then updates
    /// its weights), the caller's stay in `dout_left`.
    pub fn send_backward(&mut self, dout: &Matrix<T>) {
        dout.cols_into(0, self.cut.left, &mut self.dout_left);
        let mut right = self
            .dout_right
            .take()
            .expect("the gradient buffer came back with the forward reply");
        dout.cols_into(self.cut.left, self.cut.cols, &mut right);
        self.jobs
            .send(Job::Backward { dout: right })
            .expect("the first layer's partner thread stopped");
    }

    /// Ends the split: closes the channel (the partner finishes its last update and returns
    /// its layer from `join`), and writes both halves' values and gradients into the parked
    /// layer, which is returned.
    pub fn rejoin(
        self,
        left: &mut dyn Layer<T>,
        join: impl FnOnce() -> Affine<T>,
    ) -> Box<dyn Layer<T>> {
        let Link {
            mut parked,
            cut,
            jobs,
            ..
        } = self;
        drop(jobs);
        let mut right = join();
        let mut halves = Vec::new();
        left.visit_params(&mut |p| halves.push((p.value.to_vec(), p.grad.to_vec())));
        let mut i = 0;
        right.visit_params(&mut |p| {
            let (l_value, l_grad) = &halves[i];
            halves[i] = (
                join_cols(l_value, p.value, cut.left, cut.right()),
                join_cols(l_grad, p.grad, cut.left, cut.right()),
            );
            i += 1;
        });
        let mut i = 0;
        parked.visit_params(&mut |p| {
            p.value.copy_from_slice(&halves[i].0);
            p.grad.copy_from_slice(&halves[i].1);
            i += 1;
        });
        parked
    }
}

impl<T: Float> Partner<T> {
    /// The partner thread's loop: forward and backward on its columns as the caller asks (each
    /// batch gathered from `x_train` and changed by `edit`, as the caller's
    /// [`super::network::Network::gather_batch`] changes its copy), each backward followed by
    /// `update` (its share of the optimizer step). Returns its layer when the caller closes
    /// the channel.
    pub fn serve(
        mut self,
        x_train: &Matrix<T>,
        edit: Option<&BatchEdit<'_, T>>,
        mut update: impl FnMut(&mut Affine<T>),
    ) -> Affine<T> {
        while let Some(job) = pool::receive(&self.jobs) {
            let reply = match job {
                Job::Forward {
                    rows,
                    step,
                    mut out,
                } => {
                    // x: N × in (the batch, gathered here, where it will be read twice, and
                    // edited as the caller edits its copy), or gathered ahead already.
                    if !rows.is_empty() && self.next_rows == rows {
                        std::mem::swap(&mut self.x, &mut self.x_next);
                    } else {
                        self.x.gather_rows_from(x_train, &rows);
                    }
                    self.next_rows.clear();
                    if let Some(edit) = edit {
                        edit(step, &mut self.x);
                    }
                    self.layer.forward(&self.x, &mut out, Mode::Train);
                    Reply::Forward { rows, out }
                }
                Job::Backward { dout } => {
                    self.layer.backward_params(&self.x, &dout);
                    update(&mut self.layer);
                    Reply::Backward { dout }
                }
                Job::Prefetch { rows } => {
                    self.x_next.gather_rows_from(x_train, &rows);
                    self.next_rows = rows;
                    continue;
                }
            };
            if self.replies.send(reply).is_err() {
                break;
            }
        }
        self.layer
    }
}

#[cfg(test)]
mod tests {
    use super::{caller_columns, join_cols, split_cols};

    #[test]
    fn the_caller_keeps_fewer_panels_where_the_partner_has_no_more_to_do() {
        // 32-wide panels (AVX-512 f32): 100 → 48 | 52, 50 → 25 | 25; 16-wide (AVX2 f32):
        // 100 → 48 | 52 (3 panels | 3 and a half-width one).
        assert_eq!(caller_columns(100, 32), 48);
        assert_eq!(caller_columns(50, 32), 25);
        assert_eq!(caller_columns(100, 16), 48);
        assert_eq!(caller_columns(64, 32), 32);
        // Never an empty side where there are two columns to share.
        assert_eq!(caller_columns(2, 32), 1);
        for cols in 2..300 {
            let left = caller_columns(cols, 32);
            assert!(left >= 1 && left < cols, "{cols} → {left}");
        }
    }

    #[test]
    fn split_cols_cuts_every_row_and_join_cols_undoes_it() {
        // 2 × 3: [1 2 3; 4 5 6], cut after column 1.
        let (l, r) = split_cols(&[1, 2, 3, 4, 5, 6], 3, 1);
        assert_eq!(
            (l.as_slice(), r.as_slice()),
            (&[1, 4][..], &[2, 3, 5, 6][..])
        );
        assert_eq!(join_cols(&l, &r, 1, 2), [1, 2, 3, 4, 5, 6]);
        // A bias row, and a cut with nothing on one side.
        assert_eq!(split_cols(&[7, 8], 2, 2), (vec![7, 8], vec![]));
        assert_eq!(join_cols(&[], &[7, 8], 0, 2), [7, 8]);
    }
}
