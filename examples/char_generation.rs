//! Character-level text generation: an LSTM learns to continue Jane Austen. Many-to-many
//! training (every position of a sequence predicts the character after it), one-to-many
//! generation (one character in, one character out, the state carried from step to step).
//!
//! The text is chapters 1–11 of *Pride and Prejudice* (`examples/data/pride_and_prejudice.txt`,
//! public domain, about 96,000 characters). Each distinct character gets an id. The text is cut
//! into sequences of T characters; the target of each is the same sequence shifted by one
//! character. The last 10% of the sequences (the end of chapter 11) is the validation set.
//!
//! The model is Embedding(V, 32) → LSTM(units, return_sequences) → Dense(V, softmax) with the
//! sparse categorical cross-entropy (the cross-entropy on class ids) and Adam. After training
//! (and once before, from the untrained weights) the same model is switched to stateful mode:
//! it reads a seed string, then draws one character at a time from its softmax sharpened or
//! flattened by a temperature τ (p_i^(1/τ), renormalised) and feeds it back in. The draws come
//! from a seeded generator, so every run prints the same samples.
//!
//! It prints the model summary, the loss per epoch (training and validation, with the
//! next-character accuracy), samples at τ = 0.5 and τ = 1.0 before and after training, and
//! writes `char_generation_loss.svg` (loss per epoch) to the plot folder.
//!
//! What the full run printed when this example was written (LSTM(128), T = 64, batches of 16,
//! Adam at 0.01, 12 epochs, 22 s of training on one thread): validation loss from 2.33 after
//! the first epoch to 1.57 nats per character (2.26 bits; uniform guessing is ln 72 = 4.28),
//! validation accuracy 0.54. Before training the samples are uniform noise over the 72
//! characters; after it the τ = 0.5 sample reads "said Mr. Bingley with you way the planion in
//! allight of the dear him one in the room ...": words, names, punctuation and line lengths of
//! the novel, with little sense. The validation loss flattens after about 12 epochs while the
//! training loss goes on falling (the text is small): more epochs buy little. A GRU of the same
//! size was faster per epoch but ended a little higher (1.60 after 10 epochs), T = 32 or 100
//! and batches of 32 worse. On the shared 2-core machine where this was measured, two threads
//! (`RECURRENT_NUM_THREADS=2`) were slower than one (the other core was busy), so the example
//! leaves the thread count to that variable.
//!
//! ```sh
//! cargo run --release --example char_generation                       # full run (under a minute)
//! cargo run --release --example char_generation -- --quick            # small budget, used by the tests
//! cargo run --release --example char_generation -- --plots some/dir   # where the SVG goes (default $CARGO_TARGET_DIR/plots, else target/plots)
//! ```

#[path = "common/plot.rs"]
mod plot;

use std::collections::BTreeSet;

use recurrent::model::{Callback, Control, EpochLogs, Model};
use recurrent::ndarray::{s, Array2, Axis, Ix3};
use recurrent::prelude::*;
use recurrent::rand::Rng;

type BoxResult<T> = std::result::Result<T, Box<dyn std::error::Error>>;

const TEXT: &str = include_str!("data/pride_and_prejudice.txt");
const SEED: u64 = 42;
/// What generation starts from.
const PROMPT: &str = "\"My dear Mr. Bennet,\" said ";
const TEMPERATURES: [f64; 2] = [0.5, 1.0];
const EMBEDDING_DIM: usize = 32;

/// The budget.
struct Settings {
    /// Characters of the text used (from its start).
    chars: usize,
    /// Sequence length T.
    steps: usize,
    units: usize,
    batch: usize,
    epochs: usize,
    learning_rate: f64,
    /// Characters generated per sample.
    sample_len: usize,
}

impl Settings {
    fn full() -> Self {
        Settings {
            chars: TEXT.len(),
            steps: 64,
            units: 128,
            batch: 16,
            epochs: 12,
            learning_rate: 0.01,
            sample_len: 300,
        }
    }

    fn quick() -> Self {
        Settings { chars: 6_000, steps: 32, units: 32, batch: 8, epochs: 3, learning_rate: 0.02, sample_len: 80 }
    }
}

/// The characters of the text, sorted, each with its id (its position).
struct Charset {
    chars: Vec<char>,
}

impl Charset {
    fn new(text: &str) -> Self {
        Charset { chars: text.chars().collect::<BTreeSet<char>>().into_iter().collect() }
    }

    fn id(&self, c: char) -> Option<usize> {
        self.chars.binary_search(&c).ok()
    }

    fn ids(&self, text: &str) -> BoxResult<Vec<usize>> {
        text.chars().map(|c| self.id(c).ok_or_else(|| format!("character {c:?} is not in the text").into())).collect()
    }
}

/// Non-overlapping sequences of `steps` ids `(N, T)` and their targets, the next id at each
/// position `(N, T)`.
fn sequences(ids: &[usize], steps: usize) -> (Array2<f32>, Array2<f32>) {
    let n = ids.len().saturating_sub(1) / steps;
    let x = Array2::from_shape_fn((n, steps), |(i, t)| ids[i * steps + t] as f32);
    let y = Array2::from_shape_fn((n, steps), |(i, t)| ids[i * steps + t + 1] as f32);
    (x, y)
}

fn build(vocab: usize, settings: &Settings, rng: &mut StdRng) -> Result<Sequential<f32>> {
    let mut model = Sequential::new(&[settings.steps])?;
    model.set_name("char_lstm");
    model.add(EmbeddingConfig::new(vocab, EMBEDDING_DIM).init(rng)?)?;
    model.add(LstmConfig::new(EMBEDDING_DIM, settings.units).with_return_sequences(true).init(rng)?)?;
    model.add(DenseConfig::new(settings.units, vocab).with_activation(Activation::Softmax).init(rng)?)?;
    Ok(model)
}

/// Draws an index from `probs` sharpened (τ < 1) or flattened (τ > 1): p_i^(1/τ), renormalised.
fn sample_index(probs: &[f32], temperature: f64, rng: &mut StdRng) -> usize {
    // log p / τ, shifted by its maximum so the exponentials cannot overflow.
    let logits: Vec<f64> = probs.iter().map(|&p| (p as f64).max(1e-30).ln() / temperature).collect();
    let max = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let weights: Vec<f64> = logits.iter().map(|l| (l - max).exp()).collect();
    let mut u = rng.random::<f64>() * weights.iter().sum::<f64>();
    for (k, w) in weights.iter().enumerate() {
        if u < *w {
            return k;
        }
        u -= w;
    }
    weights.len() - 1
}

/// Generates `len` characters after `prompt`: the model reads the prompt in one pass, then one
/// character at a time, carrying its state (a stateful model with a batch of one).
fn generate(
    model: &mut Sequential<f32>,
    charset: &Charset,
    prompt: &str,
    len: usize,
    temperature: f64,
    rng: &mut StdRng,
) -> BoxResult<String> {
    model.set_stateful(true);
    model.reset_states();
    let ids = charset.ids(prompt)?;
    let x = Array2::from_shape_fn((1, ids.len()), |(_, t)| ids[t] as f32);
    let mut probs = model.predict(&x)?.into_dimensionality::<Ix3>()?.slice(s![0, -1, ..]).to_vec();
    let mut out = String::with_capacity(len);
    for _ in 0..len {
        let next = sample_index(&probs, temperature, rng);
        out.push(charset.chars[next]);
        let x = Array2::from_elem((1, 1), next as f32);
        probs = model.predict(&x)?.into_dimensionality::<Ix3>()?.slice(s![0, 0, ..]).to_vec();
    }
    model.set_stateful(false);
    Ok(out)
}

fn print_samples(model: &mut Sequential<f32>, charset: &Charset, settings: &Settings, when: &str) -> BoxResult<()> {
    for (k, &temperature) in TEMPERATURES.iter().enumerate() {
        // One generator per temperature, so each sample is reproducible on its own.
        let mut rng = StdRng::seed_from_u64(SEED + 1 + k as u64);
        let text = generate(model, charset, PROMPT, settings.sample_len, temperature, &mut rng)?;
        println!("--- sample {when}, temperature {temperature:.1} ---");
        println!("{PROMPT}{text}");
        println!("---\n");
    }
    Ok(())
}

/// Prints each epoch's logs as it ends, with the time so far.
struct PrintEpochs {
    started: std::time::Instant,
    quiet_time: bool,
}

impl Callback<f32> for PrintEpochs {
    fn on_epoch_end(&mut self, logs: &EpochLogs<f32>, _model: &mut dyn Model<f32>) -> Result<Control> {
        if self.quiet_time {
            println!("{logs}");
        } else {
            println!("{logs}  ({:.1} s)", self.started.elapsed().as_secs_f64());
        }
        Ok(Control::Continue)
    }
}

fn main() -> BoxResult<()> {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let settings = if quick { Settings::quick() } else { Settings::full() };
    let started = std::time::Instant::now();

    let text: String = TEXT.chars().take(settings.chars).collect();
    let charset = Charset::new(&text);
    let ids = charset.ids(&text)?;
    let (x, y) = sequences(&ids, settings.steps);
    let n_val = (x.nrows() / 10).max(1);
    let (x_train, y_train) = (x.slice(s![..x.nrows() - n_val, ..]).to_owned(), y.slice(s![..y.nrows() - n_val, ..]));
    let (x_val, y_val) = (x.slice(s![x.nrows() - n_val.., ..]).to_owned(), y.slice(s![y.nrows() - n_val.., ..]));
    println!("== Character-level LSTM on Pride and Prejudice (chapters 1-11) ==\n");
    println!("text: {} characters, {} distinct (V)", ids.len(), charset.chars.len());
    println!(
        "sequences of T = {} characters, targets shifted by one: {} for training, {} for validation (the end of the text)",
        settings.steps,
        x_train.len_of(Axis(0)),
        x_val.len_of(Axis(0))
    );
    println!("uniform guessing: loss ln V = {:.4}\n", (charset.chars.len() as f64).ln());

    let mut model = build(charset.chars.len(), &settings, &mut StdRng::seed_from_u64(SEED))?;
    println!("{}", model.summary());

    print_samples(&mut model, &charset, &settings, "before training")?;

    println!(
        "training: Adam lr {}, batch {}, {} epochs, sparse categorical cross-entropy (nats per character)",
        settings.learning_rate, settings.batch, settings.epochs
    );
    let train_started = std::time::Instant::now();
    let config = FitConfig::new(settings.epochs, settings.batch)
        .with_validation_data(x_val.clone(), y_val.to_owned())
        .with_metrics(vec![Metric::Accuracy])
        .with_seed(SEED)
        .with_callback(PrintEpochs { started: train_started, quiet_time: quick })
        .quiet();
    let mut adam = Adam::new(settings.learning_rate as f32);
    let history = model.fit(&x_train, &y_train, &SparseCategoricalCrossEntropy::new(), &mut adam, config)?;
    let train_seconds = train_started.elapsed().as_secs_f64();
    let last = history.epochs.last().ok_or("no epoch ran")?;
    println!(
        "\nfinal training loss {:.4}, validation loss {:.4} ({:.3} bits per character), validation accuracy {:.4}",
        last.loss,
        last.val_loss.unwrap_or(f32::NAN),
        last.val_loss.unwrap_or(f32::NAN) as f64 / std::f64::consts::LN_2,
        last.get("val_accuracy").unwrap_or(f32::NAN)
    );
    if !quick {
        println!("training took {train_seconds:.1} s");
    }
    println!();

    print_samples(&mut model, &charset, &settings, "after training")?;

    let dir = plot::plot_dir();
    let series = |name: &str| -> Vec<(f64, f64)> {
        history.get(name).unwrap_or_default().iter().enumerate().map(|(k, &v)| ((k + 1) as f64, v as f64)).collect()
    };
    let path = plot::line_chart(
        &dir.join("char_generation_loss.svg"),
        "char_generation: cross-entropy per epoch",
        "epoch",
        "loss (nats per character)",
        &[
            plot::Line { name: "train", points: series("loss") },
            plot::Line { name: "validation", points: series("val_loss") },
        ],
        false,
    )?;
    println!("plot: {}", path.display());
    println!("finished in {:.2} s", started.elapsed().as_secs_f64());
    Ok(())
}
