//! How well `predict --image`'s preparation works: every test image of MNIST and
//! Fashion-MNIST turned into somebody's picture — dark on light, slightly uneven paper, five
//! times the size, somewhere on a 200×200 sheet — then classified three ways by a network
//! trained on the dataset (784-100-50 ReLU, Adam, 3 epochs, seed 1): the dataset's own images,
//! the pictures prepared as the dataset's makers prepared theirs, and the pictures only scaled
//! down to 28×28.
//!
//! Run: `SCRATCHNET_DATA=../shared/datasets cargo run --release --example paper_digits`

#[path = "shared/paper.rs"]
mod paper;

use paper::{PEN_SCALE, SHEET, on_lit_paper, on_paper, trained_mlp, with_thinner_pen};
use rand::SeedableRng;
use scratchnet::data::picture::{self, Picture, Preparation};
use scratchnet::data::{self, DatasetName, LoadOptions};
use scratchnet::matrix::Matrix;
use scratchnet::nn::Mode;
use scratchnet::train::Length;

fn main() -> scratchnet::error::Result<()> {
    println!("| dataset | its test images | pictures, prepared | pictures, only scaled |");
    println!("| --- | --: | --: | --: |");
    for name in [DatasetName::Mnist, DatasetName::FashionMnist] {
        let ds = data::load(name, &LoadOptions::default())?;
        let mut net = trained_mlp(&ds, Length::Epochs(3), false)?;

        let how = Preparation::for_dataset(name).expect("an image dataset");
        let n = ds.x_test.rows();
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let (mut prepared, mut scaled) = (Vec::new(), Vec::new());
        for i in 0..n {
            let planes = on_paper(ds.x_test.row(i), &mut rng);
            scaled.extend(picture::resize(&planes, SHEET, SHEET, 28, 28));
            let sheet = Picture {
                channels: 1,
                height: SHEET,
                width: SHEET,
                planes,
            };
            prepared.extend(picture::prepare(&sheet, how, (1, 28, 28))?);
        }
        let mut accuracy = |x: &Matrix<f32>| -> scratchnet::error::Result<f64> {
            let predicted = net.predict(x, Mode::Eval)?.row_argmax();
            let right = predicted
                .iter()
                .zip(&ds.t_test)
                .filter(|(p, t)| p == t)
                .count();
            Ok(right as f64 / n as f64)
        };
        println!(
            "| {name} | {:.4} | {:.4} | {:.4} |",
            accuracy(&ds.x_test)?,
            accuracy(&Matrix::from_vec(n, 784, prepared)?)?,
            accuracy(&Matrix::from_vec(n, 784, scaled)?)?
        );
    }

    // MNIST on unevenly lit paper: 2,000 test digits, the light falling by `fall` across the
    // sheet from a random direction.
    let ds = data::load(DatasetName::Mnist, &LoadOptions::default())?;
    let mut net = trained_mlp(&ds, Length::Epochs(3), false)?;
    let n = 2000;
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    println!();
    println!("| light falling across the sheet by | pictures, prepared |");
    println!("| --: | --: |");
    for fall in [0.0, 0.1, 0.2, 0.3, 0.4] {
        let mut prepared = Vec::new();
        for i in 0..n {
            let sheet = Picture {
                channels: 1,
                height: SHEET,
                width: SHEET,
                planes: on_lit_paper(ds.x_test.row(i), fall, &mut rng),
            };
            prepared.extend(picture::prepare(&sheet, Preparation::Digit, (1, 28, 28))?);
        }
        let predicted = net
            .predict(&Matrix::from_vec(n, 784, prepared)?, Mode::Eval)?
            .row_argmax();
        let right = (0..n).filter(|&i| predicted[i] == ds.t_test[i]).count();
        println!("| {:.0} % | {:.4} |", 100.0 * fall, right as f64 / n as f64);
    }

    // MNIST written with thinner pens: the strokes lose `thinner` pixels of the 280-pixel
    // picture on each side (a tenth of that at 28×28); the same 2,000 test digits.
    println!();
    println!("| strokes thinner on each side by | pictures, prepared | erased entirely |");
    println!("| --: | --: | --: |");
    for thinner in [0, 2, 4, 6] {
        let (mut prepared, mut erased) = (Vec::new(), 0);
        for i in 0..n {
            let (side, planes) = with_thinner_pen(ds.x_test.row(i), thinner);
            let sheet = Picture {
                channels: 1,
                height: side,
                width: side,
                planes,
            };
            // A digit the thinning erased is a blank picture: `predict` refuses it, so it
            // counts as missed (an all-black input).
            match picture::prepare(&sheet, Preparation::Digit, (1, 28, 28)) {
                Ok(row) => prepared.extend(row),
                Err(_) => {
                    erased += 1;
                    prepared.extend([0.0; 784]);
                }
            }
        }
        let predicted = net
            .predict(&Matrix::from_vec(n, 784, prepared)?, Mode::Eval)?
            .row_argmax();
        let right = (0..n).filter(|&i| predicted[i] == ds.t_test[i]).count();
        let px = thinner as f64 / PEN_SCALE as f64;
        println!("| {px:.1} px | {:.4} | {erased} |", right as f64 / n as f64);
    }
    Ok(())
}
