//! Numerical gradients by central differences, and their comparison with backprop: the
//! textbook's `gradient_check.py`, but asserting instead of printing.
//!
//! For each parameter value w: `∂L/∂w ≈ (L(w + h) − L(w − h)) / 2h`, h = 1e-4. The error of the
//! central difference is O(h²), against O(h) for the one-sided difference. It costs two forward
//! passes *per parameter*, which is why backprop — one backward pass for all of them — exists.

use crate::error::Result;
use crate::matrix::{Float, Matrix};
use crate::nn::Mode;
use crate::nn::network::Network;
use crate::nn::softmax_with_loss::Targets;

/// The textbook's step.
pub const H: f64 = 1e-4;

/// Below this gradient norm, [`ParamCheck::rel_error`] becomes an absolute error. Central
/// differences carry rounding noise of about ε·|L| / h ≈ 1e-12 per value in f64, so a gradient
/// much smaller than 1e-4 cannot be resolved to a relative 1e-6 by any correct backprop.
pub const REL_FLOOR: f64 = 1e-4;

/// Agreement of one parameter tensor.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamCheck {
    /// PyTorch-style name, e.g. `0.weight`.
    pub name: String,
    /// Its shape as (rows, cols).
    pub shape: (usize, usize),
    /// Mean |backprop − numerical| over the tensor (the textbook's printed figure).
    pub mean_abs_diff: f64,
    /// The largest |backprop − numerical| over the tensor.
    pub max_abs_diff: f64,
    /// ‖g_bp − g_num‖ / max(‖g_bp‖ + ‖g_num‖, 1e-4): scale-free, 0 when both agree exactly.
    /// The floor makes a gradient that is truly zero (the bias of an affine layer followed by
    /// batch norm, which cancels any shift) compare on an absolute scale instead of dividing
    /// rounding noise by rounding noise.
    pub rel_error: f64,
}

/// Runs `f` with one parameter value of `net` temporarily replaced.
fn with_param_value<T: Float, R>(
    net: &mut Network<T>,
    tensor: usize,
    index: usize,
    value: T,
    f: impl FnOnce(&mut Network<T>) -> R,
) -> R {
    let set = |net: &mut Network<T>, v: Option<T>| -> T {
        let mut old = T::ZERO;
        let mut k = 0;
        net.visit_params(&mut |_, p| {
            if k == tensor {
                old = p.value[index];
                if let Some(v) = v {
                    p.value[index] = v;
                }
            }
            k += 1;
        });
        old
    };
    let old = set(net, Some(value));
    let r = f(net);
    set(net, Some(old));
    r
}

/// (L(w + h) − L(w − h)) / 2h for value `index` of parameter tensor `tensor`, whose value is
/// `w`, with the training-mode loss; the value is restored afterwards.
fn central_difference<T: Float>(
    net: &mut Network<T>,
    x: &Matrix<T>,
    t: Targets<'_, T>,
    (tensor, index, w): (usize, usize, T),
    h: T,
) -> Result<T> {
    let plus = with_param_value(net, tensor, index, w + h, |n| n.loss(x, t, Mode::Train))?;
    let minus = with_param_value(net, tensor, index, w - h, |n| n.loss(x, t, Mode::Train))?;
    Ok((plus - minus) / (h + h))
}

/// The numerical gradient of the training-mode loss for every parameter, in visit order.
/// `progress(done, total)` is called after each parameter value.
pub fn numerical_gradient<T: Float>(
    net: &mut Network<T>,
    x: &Matrix<T>,
    t: Targets<'_, T>,
    mut progress: impl FnMut(usize, usize),
) -> Result<Vec<Vec<T>>> {
    let h = T::from_f64(H);
    let mut values: Vec<Vec<T>> = Vec::new();
    net.visit_params(&mut |_, p| values.push(p.value.to_vec()));
    let total: usize = values.iter().map(Vec::len).sum();
    let mut done = 0;
    let mut grads = Vec::with_capacity(values.len());
    for (tensor, vals) in values.iter().enumerate() {
        let mut g = Vec::with_capacity(vals.len());
        for (index, &w) in vals.iter().enumerate() {
            g.push(central_difference(net, x, t, (tensor, index, w), h)?);
            done += 1;
            progress(done, total);
        }
        grads.push(g);
    }
    Ok(grads)
}

/// The backprop gradient of every parameter, in visit order.
pub fn backprop_gradient<T: Float>(
    net: &mut Network<T>,
    x: &Matrix<T>,
    t: Targets<'_, T>,
) -> Result<Vec<Vec<T>>> {
    net.gradient(x, t)?;
    let mut grads = Vec::new();
    net.visit_params(&mut |_, p| grads.push(p.grad.to_vec()));
    Ok(grads)
}

/// Compares backprop with the numerical gradient for every parameter tensor.
pub fn check<T: Float>(
    net: &mut Network<T>,
    x: &Matrix<T>,
    t: Targets<'_, T>,
) -> Result<Vec<ParamCheck>> {
    let numerical = numerical_gradient(net, x, t, |_, _| {})?;
    let backprop = backprop_gradient(net, x, t)?;
    Ok(compare(&net.param_info(), &backprop, &numerical))
}

/// [`check`] on at most `per_tensor` values of each parameter tensor, spread evenly over it
/// (all of a smaller tensor): SimpleConvNet has 434 K parameters, and two forward passes for
/// each would take minutes. Backprop is computed whole; the comparison covers the values picked.
pub fn check_sampled<T: Float>(
    net: &mut Network<T>,
    x: &Matrix<T>,
    t: Targets<'_, T>,
    per_tensor: usize,
    h: f64,
) -> Result<Vec<ParamCheck>> {
    let backprop = backprop_gradient(net, x, t)?;
    let h = T::from_f64(h);
    let mut values: Vec<Vec<T>> = Vec::new();
    net.visit_params(&mut |_, p| values.push(p.value.to_vec()));
    let info = net.param_info();
    let (mut picked_bp, mut picked_num, mut picked_info) = (Vec::new(), Vec::new(), Vec::new());
    for (tensor, vals) in values.iter().enumerate() {
        let k = per_tensor.clamp(1, vals.len().max(1));
        let picks: Vec<usize> = (0..k).map(|i| i * vals.len() / k).collect();
        let mut num = Vec::with_capacity(k);
        for &index in &picks {
            num.push(central_difference(
                net,
                x,
                t,
                (tensor, index, vals[index]),
                h,
            )?);
        }
        picked_bp.push(
            picks
                .iter()
                .map(|&i| backprop[tensor][i])
                .collect::<Vec<T>>(),
        );
        picked_num.push(num);
        picked_info.push(info[tensor].clone());
    }
    Ok(compare(&picked_info, &picked_bp, &picked_num))
}

/// Per-tensor agreement of two gradients given in the same order.
pub fn compare<T: Float>(
    info: &[(String, (usize, usize))],
    backprop: &[Vec<T>],
    numerical: &[Vec<T>],
) -> Vec<ParamCheck> {
    info.iter()
        .zip(backprop.iter().zip(numerical))
        .map(|((name, shape), (b, n))| {
            let (mut sum_abs, mut max_abs, mut diff2, mut b2, mut n2) =
                (0.0, 0.0_f64, 0.0, 0.0, 0.0);
            for (&bv, &nv) in b.iter().zip(n) {
                let (bv, nv) = (bv.to_f64(), nv.to_f64());
                let d = (bv - nv).abs();
                sum_abs += d;
                max_abs = max_abs.max(d);
                diff2 += d * d;
                b2 += bv * bv;
                n2 += nv * nv;
            }
            let denom = b2.sqrt() + n2.sqrt();
            ParamCheck {
                name: name.clone(),
                shape: *shape,
                mean_abs_diff: sum_abs / b.len().max(1) as f64,
                max_abs_diff: max_abs,
                rel_error: diff2.sqrt() / denom.max(REL_FLOOR),
            }
        })
        .collect()
}
