//! Gradient descent on a function of two variables with the numerical gradient: the course's
//! first look at optimisation (`gradient_method.py`), where the learning rate decides between
//! convergence, divergence and standing still.

/// The course's function, f(x0, x1) = x0² + x1².
pub fn function_2(x: [f64; 2]) -> f64 {
    x[0] * x[0] + x[1] * x[1]
}

/// Central-difference gradient of `f` at `x` with h = 1e-4, computed as the textbook does
/// (perturb one coordinate in place, evaluate, restore).
pub fn numerical_gradient(f: impl Fn([f64; 2]) -> f64, x: [f64; 2]) -> [f64; 2] {
    let h = crate::gradcheck::H;
    let mut grad = [0.0; 2];
    let mut x = x;
    for i in 0..2 {
        let tmp = x[i];
        x[i] = tmp + h;
        let fxh1 = f(x);
        x[i] = tmp - h;
        let fxh2 = f(x);
        grad[i] = (fxh1 - fxh2) / (2.0 * h);
        x[i] = tmp;
    }
    grad
}

/// `steps` updates `x ← x − lr·∇f(x)` from `init`; returns every point, `init` first.
pub fn gradient_descent(
    f: impl Fn([f64; 2]) -> f64,
    init: [f64; 2],
    lr: f64,
    steps: usize,
) -> Vec<[f64; 2]> {
    let mut path = Vec::with_capacity(steps + 1);
    let mut x = init;
    path.push(x);
    for _ in 0..steps {
        let g = numerical_gradient(&f, x);
        x = [x[0] - lr * g[0], x[1] - lr * g[1]];
        path.push(x);
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The course's three cases: converges to ~1e-10, explodes to ~1e13, barely moves.
    #[test]
    fn the_three_learning_rates_of_the_course() {
        let end = |lr| {
            *gradient_descent(function_2, [-3.0, 4.0], lr, 100)
                .last()
                .unwrap()
        };
        let good = end(0.1);
        assert!(good[0].abs() < 1e-9 && good[1].abs() < 1e-9, "{good:?}");
        assert!(
            good[0] < 0.0 && good[1] > 0.0,
            "approaches from the start's side: {good:?}"
        );
        let big = end(10.0);
        assert!(big[0].abs() > 1e12, "lr 10 must blow up: {big:?}");
        let tiny = end(1e-10);
        assert!(
            (tiny[0] + 3.0).abs() < 1e-6 && (tiny[1] - 4.0).abs() < 1e-6,
            "{tiny:?}"
        );
        assert!(tiny[0] != -3.0, "but it does move");
    }
}
