//! The lecture's worked example: forecast the next value of a noisy sine wave from the five
//! values before it, with SimpleRNN(3) → Dense(1), mean squared error and plain SGD.
//!
//! Part 1 trains on the lecture's own 20-point series (15 windows) and prints the summary,
//! the loss while training, target vs prediction for every window and the final MSE.
//! Part 2 does the same on a 200-point series of the same kind: it trains on the first 160
//! points and forecasts the last 40, which it never saw, one step ahead.
//!
//! ```sh
//! cargo run --release --example sine_forecast            # full run (a few seconds)
//! cargo run --release --example sine_forecast -- --quick # small budget, used by the tests
//! ```

use ndarray::{s, Array2, Array3, Axis};
use recurrent::prelude::*;
use recurrent::rand::seq::SliceRandom;
use recurrent::rand::Rng;

/// The lecture's series: x_i = sin(0.2 i) + 0.1 n_i, n = numpy's `seed(0); randn(20)`.
const LECTURE_SERIES: [f64; 20] = [
    0.1764052345967664,
    0.23868505163178355,
    0.48729214071922444,
    0.7887317933151813,
    0.9041118899145195,
    0.7437431968202554,
    1.0270479277197853,
    0.9703140091586905,
    0.9892517178621493,
    1.0149074810720324,
    0.9237017839417695,
    0.9539237545158876,
    0.75156695306585,
    0.527668873470747,
    0.3793744734304472,
    0.1744874407972939,
    0.09103376388818053,
    -0.2760569284034118,
    -0.4112136731297623,
    -0.6972674648728917,
];

const WINDOW: usize = 5;
const SEED: u64 = 42;

fn build(rng: &mut StdRng) -> Result<Sequential<f64>> {
    let mut model = Sequential::new(&[WINDOW, 1])?;
    model.add(SimpleRnnConfig::new(1, 3).init(rng)?)?;
    model.add(DenseConfig::new(3, 1).init(rng)?)?;
    Ok(model)
}

/// Part 1: the lecture's 15 windows, full-batch gradient descent.
fn lecture(epochs: usize) -> Result<f64> {
    println!("== Part 1: the lecture's series (20 points, windows of {WINDOW}) ==\n");
    let (x, y) = recurrent::data::windows(&LECTURE_SERIES, WINDOW)?;
    println!("X: {:?}, y: {:?}  (windows, time steps, features)", x.shape(), y.shape());
    let mut rng = StdRng::seed_from_u64(SEED);
    let mut model = build(&mut rng)?;
    println!("{}", model.summary());

    let mut sgd = Sgd::new(0.1);
    let every = (epochs / 10).max(1);
    for epoch in 0..epochs {
        let loss = model.train_step(&x, &y, &Mse, &mut sgd)?;
        if epoch % every == 0 {
            println!("epoch {epoch:5}  loss {loss:.6}");
        }
    }
    let pred = model.predict(&x)?; // (15, 1)
    println!("\nwindow  target     prediction");
    for k in 0..y.nrows() {
        println!("{k:6}  {:+.5}   {:+.5}", y[[k, 0]], pred[[k, 0]]);
    }
    let train_mse = model.evaluate(&x, &y, &Mse)?;
    println!("\nfinal training MSE on the lecture's 15 windows: {train_mse:.6}\n");
    Ok(train_mse)
}

/// A 200-point series of the same kind: sin(0.2 i) + 0.1·N(0, 1), seeded.
fn long_series(rng: &mut StdRng, n: usize) -> Vec<f64> {
    use recurrent::rand::distr::Distribution;
    let normal = StandardNormalBoxMuller;
    (0..n).map(|i| (0.2 * i as f64).sin() + 0.1 * normal.sample(rng)).collect()
}

/// A standard normal by the Box–Muller transform (keeps the example free of extra crates).
struct StandardNormalBoxMuller;

impl recurrent::rand::distr::Distribution<f64> for StandardNormalBoxMuller {
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        let u1: f64 = 1.0 - rng.random::<f64>(); // (0, 1]
        let u2: f64 = rng.random();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

fn rows(x: &Array3<f64>, y: &Array2<f64>, idx: &[usize]) -> (Array3<f64>, Array2<f64>) {
    (x.select(Axis(0), idx), y.select(Axis(0), idx))
}

/// Part 2: train on the first 160 points, forecast the last 40 one step ahead.
fn held_out(epochs: usize) -> Result<f64> {
    const N: usize = 200;
    const TRAIN: usize = 160;
    println!("== Part 2: 200 points; train on the first {TRAIN}, forecast the last {} ==\n", N - TRAIN);
    let mut rng = StdRng::seed_from_u64(SEED);
    let series = long_series(&mut rng, N);
    let (x, y) = recurrent::data::windows(&series, WINDOW)?;
    // Window k predicts point k + WINDOW: the first TRAIN − WINDOW windows have targets in the
    // training part, the rest have targets in the last 40 points.
    let split = TRAIN - WINDOW;
    let (x_train, y_train) = (x.slice(s![..split, .., ..]).to_owned(), y.slice(s![..split, ..]).to_owned());
    let (x_test, y_test) = (x.slice(s![split.., .., ..]).to_owned(), y.slice(s![split.., ..]).to_owned());
    println!("train windows: {}, test windows: {}", x_train.shape()[0], x_test.shape()[0]);

    let mut model = build(&mut rng)?;
    let mut sgd = Sgd::new(0.05);
    let batch = 16;
    let mut order: Vec<usize> = (0..split).collect();
    let every = (epochs / 10).max(1);
    for epoch in 0..epochs {
        order.shuffle(&mut rng);
        let mut total = 0.0;
        for chunk in order.chunks(batch) {
            let (xb, yb) = rows(&x_train, &y_train, chunk);
            total += model.train_step(&xb, &yb, &Mse, &mut sgd)? * chunk.len() as f64;
        }
        if epoch % every == 0 {
            println!("epoch {epoch:5}  train loss {:.6}", total / split as f64);
        }
    }
    let train_mse = model.evaluate(&x_train, &y_train, &Mse)?;
    let test_mse = model.evaluate(&x_test, &y_test, &Mse)?;
    // Persistence baseline: tomorrow = today.
    let naive: f64 = (0..y_test.nrows()).map(|k| (x_test[[k, WINDOW - 1, 0]] - y_test[[k, 0]]).powi(2)).sum::<f64>()
        / y_test.nrows() as f64;
    println!("\ntrain MSE (targets in the first {TRAIN} points):   {train_mse:.6}");
    println!("test MSE (the last {} points, never seen):     {test_mse:.6}", N - TRAIN);
    println!("persistence baseline (next = last) on the test: {naive:.6}");
    println!("noise variance (no forecast can beat it on average): {:.6}", 0.1f64 * 0.1);
    Ok(test_mse)
}

fn main() -> Result<()> {
    let quick = std::env::args().any(|a| a == "--quick");
    let (e1, e2) = if quick { (200, 20) } else { (5000, 500) };
    let started = std::time::Instant::now();
    let train = lecture(e1)?;
    let test = held_out(e2)?;
    println!("\nsummary: lecture train MSE {train:.6}, held-out test MSE {test:.6}");
    println!("finished in {:.2} s", started.elapsed().as_secs_f64());
    Ok(())
}
