//! Progress of a training run on stderr: a live line (epoch, batch, running loss) on a
//! terminal, one line per epoch otherwise (logs, CI).

use std::io::{IsTerminal, Write};

/// Where and how much progress is shown.
pub struct Progress {
    label: String,
    live: bool,
    epoch_lines: bool,
}

impl Progress {
    /// Progress for a run named `label`; `epoch_lines` prints each epoch's summary when
    /// stderr is not a terminal.
    pub fn new(label: impl Into<String>, epoch_lines: bool) -> Self {
        Progress {
            label: label.into(),
            live: std::io::stderr().is_terminal(),
            epoch_lines,
        }
    }

    /// After each batch: redraws the live line.
    pub fn batch(&self, epoch: usize, epochs: usize, step: usize, steps: usize, loss: f64) {
        if self.live {
            let filled = 20 * step / steps.max(1);
            eprint!(
                "\r\x1b[2K{} epoch {epoch}/{epochs} [{}{}] {step}/{steps} train L1 {loss:.4}",
                self.label,
                "#".repeat(filled),
                "-".repeat(20 - filled)
            );
            let _ = std::io::stderr().flush();
        }
    }

    /// After each epoch.
    pub fn epoch(&self, epoch: usize, epochs: usize, train_loss: f64, valid_mae: f64, best: bool) {
        let line = format!(
            "{} epoch {epoch}/{epochs}: train L1 {train_loss:.4}, valid MAE {valid_mae:.4}{}",
            self.label,
            if best { " (best)" } else { "" }
        );
        if self.live {
            eprint!("\r\x1b[2K{line}");
        } else if self.epoch_lines {
            eprintln!("{line}");
        }
    }

    /// Ends the live line.
    pub fn finish(&self) {
        if self.live {
            eprintln!();
        }
    }
}
