//! The network: a sequence of layers built from [`LayerSpec`]s, ending in softmax with loss.

use rand::SeedableRng;
use rand::rngs::StdRng;

use super::affine::Affine;
use super::batch_norm::BatchNorm;
use super::conv::Conv2d;
use super::dropout::Dropout;
use super::im2col::Window;
use super::init::Init;
use super::pool::{Flatten, Pool2d, PoolKind};
use super::relu::Relu;
use super::shape::{self, Shape};
use super::sigmoid::Sigmoid;
use super::softmax_with_loss::{SoftmaxWithLoss, Targets};
use super::spec::{LayerSpec, MAX_LAYERS, MlpSpec, eval_batch};
use super::split::{self, ColumnCut, Link, Partner, SPLIT_MIN_MACS};
use super::squared_error::SquaredError;
use super::tanh::Tanh;
use super::{Layer, Mode, Param};
use crate::error::{Error, Result};
use crate::matrix::{Float, Matrix};

/// The window of a conv or pooling layer fed rows of `shape` (an image: checked by
/// [`shape::infer`] before any layer is built).
fn image_window(spec: &LayerSpec, shape: Shape) -> Window {
    match shape {
        Shape::Image { c, h, w } => shape::window(spec, c, h, w).expect("a windowed layer"),
        Shape::Flat(_) => unreachable!("shape::infer checked that {spec} gets an image"),
    }
}

/// A change made to each gathered training batch before the first layer reads it — data
/// augmentation ([`crate::data::augment`]) — called with the step's number and the batch.
/// It must depend on those alone, so a split first layer's partner, editing its own copy,
/// gets the caller's bits.
pub type BatchEdit<'a, T> = dyn Fn(usize, &mut Matrix<T>) + Sync + 'a;

/// What a network's output is trained against.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Loss {
    /// Softmax with cross-entropy over class scores: every classifier of the course.
    #[default]
    SoftmaxCrossEntropy,
    /// Half the squared error against target values: a regression, or the TensorFlow
    /// Playground's single tanh output against ±1.
    SquaredError,
}

impl Loss {
    /// The name a checkpoint's metadata and messages use.
    pub fn name(self) -> &'static str {
        match self {
            Loss::SoftmaxCrossEntropy => "softmax-cross-entropy",
            Loss::SquaredError => "squared-error",
        }
    }
}

/// The output layer that turns the last layer's output and the targets into a loss.
enum Head<T> {
    Softmax(SoftmaxWithLoss<T>),
    Squared(SquaredError<T>),
}

impl<T: Float> Head<T> {
    fn forward(&mut self, x: &Matrix<T>, t: Targets<'_, T>) -> Result<T> {
        match self {
            Head::Softmax(l) => l.forward(x, t),
            Head::Squared(l) => l.forward(x, t),
        }
    }

    fn backward(&self, t: Targets<'_, T>, dx: &mut Matrix<T>) {
        match self {
            Head::Softmax(l) => l.backward(t, dx),
            Head::Squared(l) => l.backward(dx),
        }
    }
}

/// A feed-forward network with a loss on top (softmax with loss unless
/// [`Network::with_loss`] says otherwise), holding every buffer a training step
/// needs so that steps after the first allocate nothing.
pub struct Network<T: Float> {
    specs: Vec<LayerSpec>,
    /// The shape of an input row.
    input: Shape,
    layers: Vec<Box<dyn Layer<T>>>,
    loss_layer: Head<T>,
    weight_decay: T,
    /// The L1 penalty's coefficient (the Playground's L1 regularization); 0 for none.
    l1: T,
    /// The seed the weights and dropout streams were drawn from (checkpoints keep it).
    seed: u64,
    /// acts[0] is the input batch, acts[i + 1] the output of layer i.
    acts: Vec<Matrix<T>>,
    /// grads[i] = ∂L/∂acts[i] (grads[0] stays empty: the input needs no gradient).
    grads: Vec<Matrix<T>>,
    /// Per-layer training time, when asked for (`train --profile`); `None` costs nothing.
    profile: Option<Profile>,
    /// Whether a ReLU followed by max pooling runs as one pass (see [`Network::set_fusion`]).
    fusion: bool,
    /// The thread budget the layers were built with.
    threads: usize,
    /// While the first layer's columns are split with a partner thread: the caller's side.
    split: Option<Link<T>>,
    /// The least forward work of the first layer (multiply-adds) that is split.
    split_min_macs: usize,
    /// Training steps run with the first layer split (a count for tests and reports).
    split_steps: u64,
}

/// Where a training step's time goes, layer by layer (training passes only: evaluation is not
/// counted). Index `i < layers` is layer i; the last entry is softmax-with-loss.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Profile {
    /// Forward time of each layer, then of the loss.
    pub forward: Vec<std::time::Duration>,
    /// Backward time of each layer, then of the loss.
    pub backward: Vec<std::time::Duration>,
    /// Training steps timed.
    pub steps: u64,
    /// Rows in all the batches timed (for the GEMMs' flop counts).
    pub rows: u64,
    /// Outside the network, timed by the trainer: gathering each batch, the optimizer's update.
    pub gather: std::time::Duration,
    /// The optimizer's update.
    pub optimizer: std::time::Duration,
}

impl<T: Float> std::fmt::Debug for Network<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Network")
            .field("specs", &self.specs)
            .finish()
    }
}

impl<T: Float> Network<T> {
    /// Builds an MLP; weights are drawn from `seed`, GEMMs use up to `threads` threads.
    pub fn mlp(spec: &MlpSpec, seed: u64, threads: usize) -> Result<Self> {
        spec.validate()?;
        Self::from_specs(
            spec.layer_specs(),
            spec.init,
            spec.weight_decay,
            seed,
            threads,
        )
    }

    /// Builds a network from an explicit layer list whose first layer is affine (its input
    /// width is the network's); see [`Network::with_input`] for networks of images.
    pub fn from_specs(
        specs: Vec<LayerSpec>,
        init: Init,
        weight_decay: f64,
        seed: u64,
        threads: usize,
    ) -> Result<Self> {
        let input = match specs.first() {
            Some(LayerSpec::Affine { n_in, .. }) => Shape::Flat(*n_in),
            Some(
                LayerSpec::Conv { .. } | LayerSpec::MaxPool { .. } | LayerSpec::AvgPool { .. },
            ) => {
                return Err(Error::Config(
                    "a network that starts with a conv or pooling layer needs its input image \
                     shape"
                        .into(),
                ));
            }
            _ => {
                return Err(Error::Config(
                    "a network must start with an Affine layer".into(),
                ));
            }
        };
        Self::with_input(specs, input, init, weight_decay, seed, threads)
    }

    /// Builds a network from a layer list fed rows of `input` (a vector or an NCHW image).
    /// Every layer is checked against the shape it receives ([`shape::infer`]).
    pub fn with_input(
        specs: Vec<LayerSpec>,
        input: Shape,
        init: Init,
        weight_decay: f64,
        seed: u64,
        threads: usize,
    ) -> Result<Self> {
        if specs.len() > MAX_LAYERS {
            return Err(Error::Config(format!(
                "{} layers is more than the {MAX_LAYERS} a network may have",
                specs.len()
            )));
        }
        if input.is_empty() {
            return Err(Error::Config("a network needs at least 1 input".into()));
        }
        let shapes = shape::infer(&specs, input)?;
        if !specs.iter().any(|s| matches!(s, LayerSpec::Affine { .. })) {
            return Err(Error::Config(
                "a network needs an Affine layer to produce its class scores".into(),
            ));
        }
        if !matches!(shapes.last(), Some(Shape::Flat(_))) {
            return Err(Error::Config(
                "a network must end in class scores (a vector), not an image: add an affine \
                 layer after the last conv or pooling layer"
                    .into(),
            ));
        }
        let mut rng = StdRng::seed_from_u64(seed);
        let mut layers: Vec<Box<dyn Layer<T>>> = Vec::with_capacity(specs.len());
        for (i, spec) in specs.iter().enumerate() {
            let before = if i == 0 { input } else { shapes[i - 1] };
            let layer: Box<dyn Layer<T>> = match *spec {
                LayerSpec::Affine { n_in, n_out } => Box::new(Affine::new(
                    init.weights::<T, _>(n_in, n_out, &mut rng),
                    threads,
                )),
                LayerSpec::BatchNorm { dim } => Box::new(BatchNorm::new(dim)),
                LayerSpec::Relu => Box::new(Relu),
                LayerSpec::Sigmoid => Box::new(Sigmoid),
                LayerSpec::Tanh => Box::new(Tanh),
                LayerSpec::Dropout { ratio } => Box::new(Dropout::new(
                    ratio,
                    seed.wrapping_add(0x9e37_79b9_7f4a_7c15_u64.wrapping_mul(i as u64 + 1)),
                )),
                LayerSpec::Conv { c_out, .. } => {
                    let win = image_window(spec, before);
                    // Drawn as PyTorch stores it, [out, in·kh·kw], with fan-in in·kh·kw.
                    let fan_in = win.col_rows();
                    let w = init.weights::<T, _>(fan_in, c_out, &mut rng).transpose();
                    Box::new(Conv2d::new(win, w, threads))
                }
                LayerSpec::MaxPool { .. } => {
                    Box::new(Pool2d::new(PoolKind::Max, image_window(spec, before)))
                }
                LayerSpec::AvgPool { .. } => {
                    Box::new(Pool2d::new(PoolKind::Avg, image_window(spec, before)))
                }
                LayerSpec::Flatten => Box::new(Flatten),
            };
            layers.push(layer);
        }
        let n = layers.len();
        Ok(Network {
            specs,
            input,
            layers,
            loss_layer: Head::Softmax(SoftmaxWithLoss::new()),
            weight_decay: T::from_f64(weight_decay),
            l1: T::ZERO,
            seed,
            acts: (0..=n).map(|_| Matrix::zeros(0, 0)).collect(),
            grads: (0..=n).map(|_| Matrix::zeros(0, 0)).collect(),
            profile: None,
            fusion: true,
            threads,
            split: None,
            split_min_macs: SPLIT_MIN_MACS,
            split_steps: 0,
        })
    }

    /// The layers, in order.
    pub fn specs(&self) -> &[LayerSpec] {
        &self.specs
    }

    /// The network with its output trained against `loss` instead of softmax with loss.
    pub fn with_loss(mut self, loss: Loss) -> Self {
        self.loss_layer = match loss {
            Loss::SoftmaxCrossEntropy => Head::Softmax(SoftmaxWithLoss::new()),
            Loss::SquaredError => Head::Squared(SquaredError::new()),
        };
        self
    }

    /// What the output is trained against.
    pub fn loss_kind(&self) -> Loss {
        match self.loss_layer {
            Head::Softmax(_) => Loss::SoftmaxCrossEntropy,
            Head::Squared(_) => Loss::SquaredError,
        }
    }

    /// Sets the L1 penalty λ Σ|W| on the weights that decay (biases never do): its gradient
    /// λ·sign(W) pushes small weights to exactly zero, which L2's λW never does.
    pub fn set_l1(&mut self, lambda: f64) {
        self.l1 = T::from_f64(lambda);
    }

    /// The seed of the weights and of the dropout streams.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The L2 weight-decay coefficient λ, as the shortest decimal of the `T` in use: an f32
    /// network asked for 0.1 reports 0.1, not 0.10000000149011612, and that decimal still
    /// reads back to the same `T` (a checkpoint's metadata, `--summary-json`, a plot's title).
    pub fn weight_decay(&self) -> f64 {
        self.weight_decay
            .to_string()
            .parse()
            .unwrap_or(self.weight_decay.to_f64())
    }

    /// Values per input row.
    pub fn input_dim(&self) -> usize {
        self.input.len()
    }

    /// The shape of an input row (a vector, or an image for a convolutional network).
    pub fn input_shape(&self) -> Shape {
        self.input
    }

    /// Output width: the number of classes.
    pub fn classes(&self) -> usize {
        self.specs
            .iter()
            .rev()
            .find_map(|s| match *s {
                LayerSpec::Affine { n_out, .. } => Some(n_out),
                _ => None,
            })
            .expect("checked in from_specs")
    }

    fn check_input(&self, x: &Matrix<T>) -> Result<()> {
        if x.cols() != self.input_dim() {
            return Err(Error::shape(
                "network input",
                format!("{} features per sample", self.input_dim()),
                format!("{} (input {}×{})", x.cols(), x.rows(), x.cols()),
            ));
        }
        Ok(())
    }

    /// The input buffer the next `*_on_input` call reads (fill it with e.g.
    /// [`Matrix::gather_rows_from`] to avoid a copy).
    pub fn input_mut(&mut self) -> &mut Matrix<T> {
        &mut self.acts[0]
    }

    /// Copies the training rows `rows` of `x_train` into the input buffer and applies `edit`
    /// to them as training step `step`'s batch — and, while the first layer is split, sends
    /// them to the partner thread first, which gathers and edits its own copy at the same time
    /// (with the same `edit`, given to [`Partner::serve`]). A training step's batch must come
    /// through here when split.
    pub fn gather_batch(
        &mut self,
        x_train: &Matrix<T>,
        rows: &[usize],
        step: usize,
        edit: Option<&BatchEdit<'_, T>>,
    ) {
        if let Some(link) = self.split.as_mut() {
            link.send_batch(rows, step);
        }
        self.acts[0].gather_rows_from(x_train, rows);
        if let Some(edit) = edit {
            edit(step, &mut self.acts[0]);
        }
    }

    /// Whether the first layer is split with a partner thread now.
    pub fn is_split(&self) -> bool {
        self.split.is_some()
    }

    /// Asks a split first layer's partner to gather these training rows now, for a later
    /// [`Network::gather_batch`] of the same rows (which then copies nothing on its side);
    /// without a split, does nothing. Any other batch is gathered as usual.
    pub fn prefetch_batch(&mut self, rows: &[usize]) {
        if let Some(link) = self.split.as_mut() {
            link.send_prefetch(rows);
        }
    }

    /// Splits the first layer's output columns with a partner thread for the training steps
    /// to come (see [`split`]), if it pays: two threads or more, an affine first layer whose
    /// forward product on a `batch`-row batch is at least [`SPLIT_MIN_MACS`], no weight decay,
    /// two cores. Returns the partner, for the caller to run ([`Partner::serve`]) on a thread
    /// of its own, and the cut, for the optimizer's state
    /// ([`crate::optim::Optimizer::split_first_layer`]). Until
    /// [`Network::rejoin_first_layer`], batches must come through [`Network::gather_batch`],
    /// and the first layer's parameters visited are the caller's columns only.
    pub fn split_first_layer(&mut self, batch: usize) -> Option<(Partner<T>, ColumnCut)> {
        let LayerSpec::Affine { n_in, n_out } = *self.specs.first()? else {
            return None;
        };
        let forced = self.split_min_macs != SPLIT_MIN_MACS;
        let pays = self.threads >= 2
            && n_out >= 2
            && self.weight_decay == T::ZERO
            && self.l1 == T::ZERO
            && batch.saturating_mul(n_in).saturating_mul(n_out) >= self.split_min_macs
            && (forced || crate::matrix::gemm::dispatch::cores() >= 2);
        if !pays || self.split.is_some() {
            return None;
        }
        let cut = ColumnCut {
            rows: n_in,
            cols: n_out,
            left: split::caller_columns(
                n_out,
                crate::matrix::gemm::dispatch::avx512_kernel::<T>().nr(),
            ),
        };
        let whole = std::mem::replace(&mut self.layers[0], Box::new(Relu));
        let (left, link, partner) = split::cut_layer(whole, cut);
        self.layers[0] = Box::new(left);
        self.split = Some(link);
        Some((partner, cut))
    }

    /// Ends a split: the partner's thread is told to finish, `join` waits for it and returns
    /// its layer, and the whole first layer is put back with both halves' values.
    pub fn rejoin_first_layer(&mut self, join: impl FnOnce() -> Affine<T>) {
        if let Some(link) = self.split.take() {
            let whole = link.rejoin(self.layers[0].as_mut(), join);
            self.layers[0] = whole;
        }
    }

    /// Splits from `min_macs` multiply-adds on, and on one core too when it is not the
    /// default: tests lower it to split small layers.
    pub fn set_split_min_macs(&mut self, min_macs: usize) {
        self.split_min_macs = min_macs;
    }

    /// Training steps run so far with the first layer split over two threads.
    pub fn split_steps(&self) -> u64 {
        self.split_steps
    }

    /// Whether layer `i` is a ReLU that the next layer absorbs: a max pool, which then reads
    /// the ReLU's input and gives the same bits as the two passes (the maximum of rectified
    /// values is the rectified maximum). The ReLU's output — a whole activation map per image,
    /// written, then read back by the pool, and the same again in backward — is then never
    /// materialised (SimpleConvNet: 1.4 ms of a 10 ms step).
    pub fn absorbed(&self, i: usize) -> bool {
        self.fusion
            && self.specs[i] == LayerSpec::Relu
            && matches!(self.specs.get(i + 1), Some(LayerSpec::MaxPool { .. }))
    }

    /// Whether layer `i` is a flatten that hands its input buffer on as its output (a swap
    /// of two activation buffers, undone in backward) instead of copying it.
    fn hands_over(&self, i: usize) -> bool {
        self.fusion && self.specs[i] == LayerSpec::Flatten
    }

    /// Turns the shortcuts on (the default) or off: a ReLU absorbed by the max pool after it,
    /// and a flatten that passes its buffer on instead of copying it. Results are
    /// bit-identical either way; off, every layer's output is kept for
    /// [`Network::layer_output`].
    pub fn set_fusion(&mut self, on: bool) {
        self.fusion = on;
    }

    fn forward(&mut self, mode: Mode) {
        let timed = mode == Mode::Train && self.profile.is_some();
        let mut i = 0;
        while i < self.layers.len() {
            let start = timed.then(std::time::Instant::now);
            let fused = self.absorbed(i) && {
                // ReLU i into pool i + 1: read acts[i], write acts[i + 2].
                let (xs, outs) = self.acts.split_at_mut(i + 2);
                self.layers[i + 1].forward_rectified(&xs[i], &mut outs[0], mode)
            };
            if fused {
                i += 1; // the time is the pool's
            } else if self.hands_over(i) {
                // The rows are already the vectors: hand the buffer over instead of copying it
                // (backward hands it back, so the layer below finds its output again).
                self.acts.swap(i, i + 1);
            } else if let (0, Some(link)) = (i, self.split.as_mut()) {
                // The caller's columns here, the partner's from its thread, side by side.
                self.layers[0].forward(&self.acts[0], &mut link.out_left, mode);
                link.collect_forward(&mut self.acts[1]);
            } else {
                let (xs, outs) = self.acts.split_at_mut(i + 1);
                self.layers[i].forward(&xs[i], &mut outs[0], mode);
            }
            if let (Some(start), Some(p)) = (start, self.profile.as_mut()) {
                p.forward[i] += start.elapsed();
            }
            i += 1;
        }
    }

    /// Starts timing every layer of every training step from now on (see [`Profile`]).
    pub fn enable_profile(&mut self) {
        let n = self.layers.len() + 1;
        self.profile = Some(Profile {
            forward: vec![std::time::Duration::ZERO; n],
            backward: vec![std::time::Duration::ZERO; n],
            ..Profile::default()
        });
    }

    /// The times gathered since [`Network::enable_profile`], if it was called.
    pub fn profile(&self) -> Option<&Profile> {
        self.profile.as_ref()
    }

    /// [`Network::profile`], for the trainer to add the time it spends outside the layers.
    pub fn profile_mut(&mut self) -> Option<&mut Profile> {
        self.profile.as_mut()
    }

    /// Class scores (before softmax) for `x`: N × classes.
    pub fn predict(&mut self, x: &Matrix<T>, mode: Mode) -> Result<&Matrix<T>> {
        self.check_input(x)?;
        self.acts[0].copy_from(x);
        self.forward(mode);
        Ok(&self.acts[self.layers.len()])
    }

    /// The output of layer `layer` in the last forward pass (`predict`, `loss`, `gradient`),
    /// one row per sample: what `predict --feature-maps` draws. A ReLU absorbed by the max
    /// pool after it has no output of its own: call [`Network::set_fusion`]`(false)` first.
    pub fn layer_output(&self, layer: usize) -> Option<&Matrix<T>> {
        self.acts.get(layer + 1)
    }

    /// ½λ Σ‖W‖² (plus λ₁ Σ|W| with an L1 penalty) over the weights that decay.
    fn decay_penalty(&mut self) -> f64 {
        let (lambda, l1) = (self.weight_decay.to_f64(), self.l1.to_f64());
        if lambda == 0.0 && l1 == 0.0 {
            return 0.0;
        }
        let (mut squares, mut abs) = (0.0, 0.0);
        self.visit_params(&mut |_, p| {
            if p.decay {
                squares += p.value.iter().map(|v| v.to_f64() * v.to_f64()).sum::<f64>();
                abs += p.value.iter().map(|v| v.to_f64().abs()).sum::<f64>();
            }
        });
        0.5 * lambda * squares + l1 * abs
    }

    /// Mean cross-entropy (plus weight decay) of `x` against `t`.
    pub fn loss(&mut self, x: &Matrix<T>, t: Targets<'_, T>, mode: Mode) -> Result<T> {
        self.predict(x, mode)?;
        let data_loss = self.loss_layer.forward(&self.acts[self.layers.len()], t)?;
        Ok(data_loss + T::from_f64(self.decay_penalty()))
    }

    /// Backprop on `x`: fills every layer's parameter gradients; returns the loss.
    pub fn gradient(&mut self, x: &Matrix<T>, t: Targets<'_, T>) -> Result<T> {
        self.check_input(x)?;
        self.acts[0].copy_from(x);
        self.gradient_on_input(t)
    }

    /// [`Network::gradient`] on the batch already in [`Network::input_mut`].
    pub fn gradient_on_input(&mut self, t: Targets<'_, T>) -> Result<T> {
        let loss = self.loss_on_input(t)?;
        self.backward(t);
        Ok(loss)
    }

    /// The training-mode loss (with weight decay) of the batch in [`Network::input_mut`]: the
    /// first half of [`Network::gradient_on_input`], so a trainer can look at the loss before
    /// it asks for the gradients with [`Network::backward`].
    pub fn loss_on_input(&mut self, t: Targets<'_, T>) -> Result<T> {
        let x_cols = self.acts[0].cols();
        if x_cols != self.input_dim() {
            return Err(Error::shape(
                "network input",
                format!("{} features per sample", self.input_dim()),
                format!("{x_cols}"),
            ));
        }
        self.forward(Mode::Train);
        let n = self.layers.len();
        let timed = self.profile.is_some();
        let clock = || timed.then(std::time::Instant::now);
        let start = clock();
        let loss = self.loss_layer.forward(&self.acts[n], t)?;
        if let (Some(start), Some(p)) = (start, self.profile.as_mut()) {
            p.forward[n] += start.elapsed();
            p.steps += 1;
            p.rows += self.acts[0].rows() as u64;
        }
        Ok(loss + T::from_f64(self.decay_penalty()))
    }

    /// Fills every layer's parameter gradients from the loss of the last
    /// [`Network::loss_on_input`] against the same targets `t`.
    pub fn backward(&mut self, t: Targets<'_, T>) {
        let n = self.layers.len();
        let timed = self.profile.is_some();
        let clock = || timed.then(std::time::Instant::now);
        let start = clock();
        self.loss_layer.backward(t, &mut self.grads[n]);
        if let (Some(start), Some(p)) = (start, self.profile.as_mut()) {
            p.backward[n] += start.elapsed();
        }
        // Layers below `top` are still to run, the last first.
        let mut top = n;
        while top > 0 {
            let i = top - 1;
            let start = clock();
            let fused = i > 0 && self.absorbed(i - 1) && {
                // Pool i with the ReLU i − 1 it absorbed: from ∂L/∂acts[i + 1] straight to
                // ∂L/∂acts[i − 1].
                let (gx, gout) = self.grads.split_at_mut(i);
                let dx = if i == 1 { None } else { Some(&mut gx[i - 1]) };
                let (x, out) = (&self.acts[i - 1], &self.acts[i + 1]);
                self.layers[i].backward_rectified(x, out, &gout[1], dx)
            };
            if fused {
                top -= 1; // the ReLU's part is done too
            } else if self.hands_over(i) {
                // Undo the forward pass's swap, and pass the gradient down the same way.
                self.acts.swap(i, i + 1);
                self.grads.swap(i, i + 1);
            } else if let (0, Some(link)) = (i, self.split.as_mut()) {
                // The partner's columns of ∂L/∂out to its thread, the caller's here.
                link.send_backward(&self.grads[1]);
                self.layers[0].backward(&self.acts[0], &link.out_left, &link.dout_left, None);
                self.split_steps += 1;
            } else {
                let (gx, gout) = self.grads.split_at_mut(i + 1);
                // The first layer's input is data: no gradient needed, so none is computed.
                let dx = if i == 0 { None } else { Some(&mut gx[i]) };
                self.layers[i].backward(&self.acts[i], &self.acts[i + 1], &gout[0], dx);
            }
            if let (Some(start), Some(p)) = (start, self.profile.as_mut()) {
                p.backward[i] += start.elapsed();
            }
            top -= 1;
        }
        let (lambda, l1) = (self.weight_decay, self.l1);
        if lambda != T::ZERO || l1 != T::ZERO {
            self.visit_params(&mut |_, p| {
                if p.decay {
                    for (g, &w) in p.grad.iter_mut().zip(p.value.iter()) {
                        // sign(0) = 0: the penalty |w| has no slope to follow at its minimum.
                        let sign = if w > T::ZERO {
                            T::ONE
                        } else if w < T::ZERO {
                            -T::ONE
                        } else {
                            T::ZERO
                        };
                        *g += lambda * w + l1 * sign;
                    }
                }
            });
        }
    }

    /// Mean loss (without weight decay) and accuracy over a whole dataset, in eval mode and in
    /// batches of [`eval_batch`] rows (5,000 for an MLP; fewer for wide CNN activations).
    pub fn evaluate(&mut self, x: &Matrix<T>, labels: &[usize]) -> Result<(f64, f64)> {
        self.evaluate_with(x, labels, |_, _| {})
    }

    /// [`Network::evaluate`], also handing each batch's predicted classes and true labels to
    /// `on_batch` (a confusion matrix needs no second pass over the data).
    pub fn evaluate_with(
        &mut self,
        x: &Matrix<T>,
        labels: &[usize],
        mut on_batch: impl FnMut(&[usize], &[usize]),
    ) -> Result<(f64, f64)> {
        self.check_input(x)?;
        if x.rows() != labels.len() {
            return Err(Error::shape(
                "evaluate",
                format!("{} labels", x.rows()),
                format!("{}", labels.len()),
            ));
        }
        let (mut loss_sum, mut correct) = (0.0, 0usize);
        let n_layers = self.layers.len();
        let rows = eval_batch(&self.specs, self.input, std::mem::size_of::<T>());
        for start in (0..x.rows()).step_by(rows) {
            let end = (start + rows).min(x.rows());
            let input = &mut self.acts[0];
            input.ensure_shape(end - start, x.cols());
            input
                .as_mut_slice()
                .copy_from_slice(&x.as_slice()[start * x.cols()..end * x.cols()]);
            self.forward(Mode::Eval);
            let batch_labels = &labels[start..end];
            let loss = self
                .loss_layer
                .forward(&self.acts[n_layers], Targets::Labels(batch_labels))?;
            loss_sum += loss.to_f64() * (end - start) as f64;
            let predicted = self.acts[n_layers].row_argmax();
            correct += predicted
                .iter()
                .zip(batch_labels)
                .filter(|(p, t)| p == t)
                .count();
            on_batch(&predicted, batch_labels);
        }
        let n = x.rows().max(1) as f64;
        Ok((loss_sum / n, correct as f64 / n))
    }

    /// Fraction of rows of `x` whose highest score is the label.
    pub fn accuracy(&mut self, x: &Matrix<T>, labels: &[usize]) -> Result<f64> {
        self.evaluate(x, labels).map(|(_, acc)| acc)
    }

    /// Calls `f(layer_index, param)` for every learnable tensor, in a fixed order.
    pub fn visit_params(&mut self, f: &mut dyn FnMut(usize, Param<'_, T>)) {
        for (i, layer) in self.layers.iter_mut().enumerate() {
            layer.visit_params(&mut |p| f(i, p));
        }
    }

    /// Calls `f(layer_index, name, values)` for every non-learned state tensor.
    pub fn visit_buffers(&mut self, f: &mut dyn FnMut(usize, &'static str, &mut [T])) {
        for (i, layer) in self.layers.iter_mut().enumerate() {
            layer.visit_buffers(&mut |name, v| f(i, name, v));
        }
    }

    /// Calls `f(layer_index, counter)` for every layer with random state (dropout).
    pub fn visit_rng_calls(&mut self, f: &mut dyn FnMut(usize, &mut u64)) {
        for (i, layer) in self.layers.iter_mut().enumerate() {
            if let Some(c) = layer.rng_calls() {
                f(i, c);
            }
        }
    }

    /// The dropout layers' masks from the last train-mode pass (true = kept), in layer order.
    pub fn dropout_masks(&self) -> impl Iterator<Item = &[bool]> {
        self.layers.iter().filter_map(|layer| layer.dropout_mask())
    }

    /// Total number of learnable values.
    pub fn param_count(&mut self) -> usize {
        let mut n = 0;
        self.visit_params(&mut |_, p| n += p.value.len());
        n
    }

    /// Names (`0.weight`, …), shapes and lengths of the learnable tensors, in visit order.
    pub fn param_info(&mut self) -> Vec<(String, (usize, usize))> {
        let mut out = Vec::new();
        self.visit_params(&mut |i, p| out.push((format!("{i}.{}", p.name), p.shape)));
        out
    }
}
