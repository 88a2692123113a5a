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

use paper::{PEN_SCALE, SHEET, on_lit_paper, on_paper, prepare_all, trained_mlp, with_thinner_pen};
use rand::SeedableRng;
use scratchnet::data::picture::{self, Picture, Preparation};
use scratchnet::data::{self, DatasetName, LoadOptions};
use scratchnet::matrix::Matrix;
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
        let sheets: Vec<Picture> = (0..n)
            .map(|i| on_paper(ds.x_test.row(i), &mut rng))
            .collect();
        let scaled: Vec<f32> = sheets
            .iter()
            .flat_map(|s| picture::resize(&s.planes, SHEET, SHEET, 28, 28))
            .collect();
        let prepared = prepare_all(sheets, how)?;
        println!(
            "| {name} | {:.4} | {:.4} | {:.4} |",
            net.accuracy(&ds.x_test, &ds.t_test)?,
            net.accuracy(&prepared, &ds.t_test)?,
            net.accuracy(&Matrix::from_vec(n, 784, scaled)?, &ds.t_test)?
        );
    }

    // MNIST on unevenly lit paper: 2,000 test digits, the light falling by `fall` across the
    // sheet from a random direction.
    let ds = data::load(DatasetName::Mnist, &LoadOptions::default())?;
    let mut net = trained_mlp(&ds, Length::Epochs(3), false)?;
    let n = 2000;
    let labels = &ds.t_test[..n];
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    println!();
    println!("| light falling across the sheet by | pictures, prepared |");
    println!("| --: | --: |");
    for fall in [0.0, 0.1, 0.2, 0.3, 0.4] {
        let sheets = (0..n).map(|i| on_lit_paper(ds.x_test.row(i), fall, &mut rng));
        let prepared = prepare_all(sheets, Preparation::Digit)?;
        println!(
            "| {:.0} % | {:.4} |",
            100.0 * fall,
            net.accuracy(&prepared, labels)?
        );
    }

    // MNIST written with thinner pens: the strokes lose `thinner` pixels of the 280-pixel
    // picture on each side (a tenth of that at 28×28); the same 2,000 test digits.
    println!();
    println!("| strokes thinner on each side by | pictures, prepared | erased entirely |");
    println!("| --: | --: | --: |");
    for thinner in [0, 2, 4, 6] {
        let (mut prepared, mut erased) = (Vec::new(), 0);
        for i in 0..n {
            let sheet = with_thinner_pen(ds.x_test.row(i), thinner);
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
        let accuracy = net.accuracy(&Matrix::from_vec(n, 784, prepared)?, labels)?;
        let px = thinner as f64 / PEN_SCALE as f64;
        println!("| {px:.1} px | {accuracy:.4} | {erased} |");
    }
    Ok(())
}
