//! SVG line charts for the examples (plotters, a dev-dependency: the library itself does not
//! depend on it).

use std::path::{Path, PathBuf};

use plotters::prelude::*;

/// One named line of a chart: `(x, y)` points, drawn in order.
pub struct Line<'a> {
    /// The legend entry.
    pub name: &'a str,
    /// The points.
    pub points: Vec<(f64, f64)>,
}

/// The folder plots go to: `--plots DIR` on the command line, else `$CARGO_TARGET_DIR/plots`
/// when that variable is set (cargo's own build folder then), else `target/plots`.
pub fn plot_dir() -> PathBuf {
    let args: Vec<String> = std::env::args().collect();
    let asked = args.iter().position(|a| a == "--plots").and_then(|i| args.get(i + 1)).map(PathBuf::from);
    let target = std::env::var_os("CARGO_TARGET_DIR").filter(|d| !d.is_empty()).map(PathBuf::from);
    let dir = asked.unwrap_or_else(|| target.unwrap_or_else(|| PathBuf::from("target")).join("plots"));
    let _ = std::fs::create_dir_all(&dir);
    dir
}

const COLORS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

/// One panel of a figure: a title and its lines.
pub struct Panel<'a> {
    /// The panel's caption.
    pub title: &'a str,
    /// Its lines; line `k` has the same colour in every panel.
    pub lines: &'a [Line<'a>],
}

/// Draws `lines` into an SVG file at `path`, with a title, axis labels and a legend.
/// `log_y` plots log10(y) (for loss curves). Returns the path written.
pub fn line_chart(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    lines: &[Line<'_>],
    log_y: bool,
) -> Result<PathBuf, Box<dyn std::error::Error>> {
    panel_chart(path, title, x_label, y_label, &[Panel { title: "", lines }], log_y)
}

/// Draws `panels` side by side into one SVG file at `path`, under one title, on the same axes
/// (so the panels compare by eye); each panel has its own legend. `log_y` plots log10(y).
/// Returns the path written.
pub fn panel_chart(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    panels: &[Panel<'_>],
    log_y: bool,
) -> Result<PathBuf, Box<dyn std::error::Error>> {
    let tf = |y: f64| if log_y { y.max(1e-300).log10() } else { y };
    let pts = panels.iter().flat_map(|p| p.lines).flat_map(|l| l.points.iter().map(|&(x, y)| (x, tf(y))));
    let (mut x0, mut x1, mut y0, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY);
    for (x, y) in pts.filter(|(x, y)| x.is_finite() && y.is_finite()) {
        (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
    }
    // No finite point: an empty unit square; one x or y value: a unit-wide range around it.
    if !x0.is_finite() {
        (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
    }
    if x0.partial_cmp(&x1) != Some(std::cmp::Ordering::Less) {
        (x0, x1) = (x0 - 0.5, x0 + 0.5);
    }
    if y0.partial_cmp(&y1) != Some(std::cmp::Ordering::Less) {
        (y0, y1) = (y0 - 0.5, y0 + 0.5);
    }
    let pad = (y1 - y0) * 0.05;
    let width = 900 + 600 * panels.len().saturating_sub(1) as u32;
    let root = SVGBackend::new(path, (width, 500)).into_drawing_area();
    root.fill(&WHITE)?;
    // One panel takes the title as its caption; several share it above them.
    let areas = if panels.len() == 1 {
        vec![root.clone()]
    } else {
        root.titled(title, ("sans-serif", 22))?.split_evenly((1, panels.len()))
    };
    let y_desc = if log_y { format!("log10 {y_label}") } else { y_label.to_string() };
    for (panel, area) in panels.iter().zip(&areas) {
        let caption = if panels.len() == 1 { title } else { panel.title };
        let mut chart = ChartBuilder::on(area)
            .caption(caption, ("sans-serif", if panels.len() == 1 { 22 } else { 18 }))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(x0..x1, (y0 - pad)..(y1 + pad))?;
        chart.configure_mesh().x_desc(x_label).y_desc(y_desc.as_str()).draw()?;
        for (k, line) in panel.lines.iter().enumerate() {
            let color = COLORS[k % COLORS.len()];
            let points: Vec<(f64, f64)> = line.points.iter().map(|&(x, y)| (x, tf(y))).collect();
            chart
                .draw_series(LineSeries::new(points, color.stroke_width(2)))?
                .label(line.name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        }
        chart.configure_series_labels().background_style(WHITE.mix(0.85)).border_style(BLACK).draw()?;
    }
    root.present()?;
    Ok(path.to_path_buf())
}
