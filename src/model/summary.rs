//! Keras-style `summary()` text.

use crate::float::Float;
use crate::layers::Params;
use crate::model::sequential::Sequential;

fn shape_text(shape: &[usize]) -> String {
    let mut parts = vec!["None".to_string()];
    parts.extend(shape.iter().map(|d| d.to_string()));
    format!("({})", parts.join(", "))
}

impl<F: Float> Sequential<F> {
    /// A table of the layers, their output shapes and parameter counts, with the totals, in
    /// the layout Keras prints. The batch axis shows as `None`. "Non-trainable params" are
    /// those of frozen layers ([`crate::Sequential::set_trainable`]); each layer's row counts
    /// all of its parameters, frozen or not, as Keras's does.
    ///
    /// ```
    /// use recurrent::prelude::*;
    /// let mut rng = StdRng::seed_from_u64(0);
    /// let mut model = Sequential::<f32>::new(&[5, 1])?;
    /// model.add(SimpleRnnConfig::new(1, 2).init(&mut rng)?)?;
    /// model.add(DenseConfig::new(2, 1).init(&mut rng)?)?;
    /// let text = model.summary();
    /// assert!(text.contains("simple_rnn (SimpleRNN)"));
    /// assert!(text.contains("Total params: 11"));
    /// assert!(text.contains("Non-trainable params: 0"));
    ///
    /// model.set_trainable(0, false)?; // the SimpleRNN's 2 + 4 + 2 weights
    /// let text = model.summary();
    /// assert!(text.contains("Trainable params: 3\n"));
    /// assert!(text.contains("Non-trainable params: 8\n"));
    /// # Ok::<(), recurrent::Error>(())
    /// ```
    pub fn summary(&self) -> String {
        let rows: Vec<(String, String, String)> = self
            .layers()
            .iter()
            .zip(self.layer_output_shapes())
            .map(|(l, s)| (format!("{} ({})", l.name(), l.kind()), shape_text(s), l.param_count().to_string()))
            .collect();
        let w1 = rows.iter().map(|r| r.0.len()).max().unwrap_or(0).max(27) + 1;
        let w2 = rows.iter().map(|r| r.1.len()).max().unwrap_or(0).max(24) + 2;
        let w3 = 10;
        let width = 1 + w1 + w2 + w3;
        let line = |c: char| c.to_string().repeat(width);
        let mut out = String::new();
        out.push_str(&format!("Model: \"{}\"\n", self.name()));
        out.push_str(&line('_'));
        out.push('\n');
        out.push_str(format!(" {:<w1$}{:<w2$}{}", "Layer (type)", "Output Shape", "Param #").trim_end());
        out.push('\n');
        out.push_str(&line('='));
        out.push('\n');
        for (i, (name, shape, params)) in rows.iter().enumerate() {
            if i > 0 {
                out.push_str(&line('-'));
                out.push('\n');
            }
            out.push_str(format!(" {name:<w1$}{shape:<w2$}{params}").trim_end());
            out.push('\n');
        }
        out.push_str(&line('='));
        out.push('\n');
        let total = self.param_count();
        let trainable = self.trainable_param_count();
        out.push_str(&format!("Total params: {total}\n"));
        out.push_str(&format!("Trainable params: {trainable}\n"));
        out.push_str(&format!("Non-trainable params: {}\n", total - trainable));
        out.push_str(&line('_'));
        out.push('\n');
        out
    }
}
