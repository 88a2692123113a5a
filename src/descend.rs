//! Descent on a function of two variables: the course's first look at optimisation
//! (`gradient_method.py`: gradient descent with the numerical gradient, where the learning rate
//! decides between convergence, divergence and standing still), and the book's comparison of
//! optimizers on an elongated bowl (`optimizer_compare_naive.py`), run by the same optimizer
//! code that trains the networks ([`crate::optim`]).

use crate::nn::Param;
use crate::optim::{Optimizer, OptimizerConfig};

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
    descend(
        |x| numerical_gradient(&f, x),
        init,
        OptimizerConfig::Sgd { lr },
        steps,
    )
}

/// `steps` updates of the optimizer `config` from `init`, each from `gradient` at the current
/// point; returns every point, `init` first. With SGD this is [`gradient_descent`].
pub fn descend(
    gradient: impl Fn([f64; 2]) -> [f64; 2],
    init: [f64; 2],
    config: OptimizerConfig,
    steps: usize,
) -> Vec<[f64; 2]> {
    let mut opt = Optimizer::<f64>::new(config);
    let mut path = Vec::with_capacity(steps + 1);
    let mut x = init;
    path.push(x);
    for _ in 0..steps {
        let mut g = gradient(x);
        opt.step_params(|update| {
            update(Param {
                name: "x",
                value: &mut x,
                grad: &mut g,
                decay: false,
                shape: (1, 2),
            })
        });
        path.push(x);
    }
    path
}

/// The two functions `descend` draws.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Surface {
    /// The course's f(x0, x1) = x0² + x1², with the numerical gradient (its chapter 4).
    Sphere,
    /// The book's f(x, y) = x²/20 + y² (`optimizer_compare_naive.py`), with its analytic
    /// gradient (x/10, 2y): a valley twenty times steeper across than along, where the gradient
    /// points mostly across and SGD zigzags.
    Elongated,
}

impl Surface {
    /// The function's value at `x`.
    pub fn value(self, x: [f64; 2]) -> f64 {
        match self {
            Surface::Sphere => function_2(x),
            Surface::Elongated => x[0] * x[0] / 20.0 + x[1] * x[1],
        }
    }

    /// Its gradient at `x`, computed by hand (the functions are two quadratics).
    pub fn gradient(self, x: [f64; 2]) -> [f64; 2] {
        match self {
            Surface::Sphere => numerical_gradient(function_2, x),
            Surface::Elongated => [x[0] / 10.0, 2.0 * x[1]],
        }
    }

    /// The variables' names, as the course and the book write them.
    pub fn variables(self) -> &'static str {
        match self {
            Surface::Sphere => "x0, x1",
            Surface::Elongated => "x, y",
        }
    }

    /// The formula, for titles.
    pub fn formula(self) -> &'static str {
        match self {
            Surface::Sphere => "x0² + x1²",
            Surface::Elongated => "x²/20 + y²",
        }
    }

    /// The contours are ellipses x²/a² + y²/b² = c: (a, b).
    pub fn axes(self) -> (f64, f64) {
        match self {
            Surface::Sphere => (1.0, 1.0),
            Surface::Elongated => (20f64.sqrt(), 1.0),
        }
    }

    /// Where the book starts: (-3, 4) and (-7, 2).
    pub fn start(self) -> [f64; 2] {
        match self {
            Surface::Sphere => [-3.0, 4.0],
            Surface::Elongated => [-7.0, 2.0],
        }
    }

    /// The book's step counts: 100 and 30.
    pub fn steps(self) -> usize {
        match self {
            Surface::Sphere => 100,
            Surface::Elongated => 30,
        }
    }
}

impl std::str::FromStr for Surface {
    type Err = crate::Error;

    fn from_str(s: &str) -> crate::error::Result<Self> {
        match s {
            "sphere" => Ok(Surface::Sphere),
            "elongated" => Ok(Surface::Elongated),
            other => Err(crate::Error::Config(format!(
                "--function '{other}': choose sphere (x0² + x1²) or elongated (x²/20 + y²)"
            ))),
        }
    }
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

    /// The book's `optimizer_compare_naive.py` on x²/20 + y² from (-7, 2), 30 steps: SGD
    /// zigzags across the valley, Momentum overshoots and swings back, AdaGrad and Adam head
    /// for the minimum; each ends where a step-by-step evaluation of the book's update rules
    /// puts it.
    #[test]
    fn the_books_four_optimizers_on_the_elongated_bowl() {
        let f = Surface::Elongated;
        let run = |name: &str, lr: f64| {
            let cfg = OptimizerConfig::from_name(name, Some(lr)).unwrap();
            descend(|x| f.gradient(x), f.start(), cfg, f.steps())
        };
        // SGD by hand: x ← x − 0.95·(x/10, 2y).
        let sgd = run("sgd", 0.95);
        let mut x = [-7.0_f64, 2.0];
        for _ in 0..30 {
            x = [x[0] - 0.95 * (x[0] / 10.0), x[1] - 0.95 * (2.0 * x[1])];
        }
        assert_eq!(sgd[30], x);
        // y flips sign every step (1 − 1.9 < 0): the zigzag.
        assert!(sgd.windows(2).take(10).all(|w| w[0][1] * w[1][1] < 0.0));
        // Everyone ends nearer the minimum than it started.
        for (name, lr) in [("momentum", 0.1), ("adagrad", 1.5), ("adam", 0.3)] {
            let path = run(name, lr);
            assert!(
                f.value(path[30]) < 0.1 * f.value(f.start()),
                "{name}: {:?}",
                path[30]
            );
        }
        // Momentum overshoots x = 0 on its way (the swing the book's figure shows).
        assert!(run("momentum", 0.1).iter().any(|p| p[0] > 0.0));
    }
}
