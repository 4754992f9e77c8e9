//! Progress of a training run on stderr: on a terminal, a bar over the whole run (epoch,
//! batch, running loss, time left at most: early stopping may end it sooner), with the
//! epochs' summary lines above it when asked for; otherwise (logs, CI) only those lines.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use mosaic::train::Progress as Event;
use std::io::IsTerminal;

/// Where and how much progress is shown.
pub struct Progress {
    label: String,
    bar: Option<ProgressBar>,
    epoch_lines: bool,
}

impl Progress {
    /// Progress for a run named `label`; `epoch_lines` prints each epoch's summary (above
    /// the bar on a terminal).
    pub fn new(label: impl Into<String>, epoch_lines: bool) -> Self {
        let label = label.into();
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template("{prefix} {msg} [{bar:24}] ETA {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("#>-");
            bar.set_style(style);
            bar.set_prefix(label.clone());
            bar
        });
        Progress {
            label,
            bar,
            epoch_lines,
        }
    }

    /// Shows an event of [`mosaic::train::fit`].
    pub fn update(&mut self, event: Event) {
        match event {
            Event::Batch {
                epoch,
                epochs,
                step,
                steps,
                loss,
            } => {
                if let Some(bar) = &self.bar {
                    bar.set_length((epochs * steps) as u64);
                    bar.set_position(((epoch - 1) * steps + step) as u64);
                    bar.set_message(format!(
                        "epoch {epoch}/{epochs} batch {step}/{steps} train L1 {loss:.4}"
                    ));
                }
            }
            Event::Epoch {
                epoch,
                epochs,
                train_loss,
                valid_mae,
                best,
            } => {
                let line = format!(
                    "{} epoch {epoch}/{epochs}: train L1 {train_loss:.4}, valid MAE {valid_mae:.4}{}",
                    self.label,
                    if best { " (best)" } else { "" }
                );
                match &self.bar {
                    Some(bar) if self.epoch_lines => bar.println(line),
                    Some(_) => {}
                    None if self.epoch_lines => eprintln!("{line}"),
                    None => {}
                }
            }
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
