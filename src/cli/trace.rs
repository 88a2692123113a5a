//! `train --trace DIR`: a record of a run that another framework can replay step by step.
//!
//! Two implementations of one recipe agree on the distribution of their results, not on any
//! single result: a different rounding in the 30th step sends the weights down another path.
//! To tell "the same function, another draw" from a real difference, both must take the same
//! steps: the same initial weights, the same batches, the same dropout masks. The trace holds
//! exactly those, in formats any language reads:
//!
//! - `init.safetensors`: the checkpoint before the first step (PyTorch layout, as `--save`
//!   writes, optimizer state zero), so `load_state_dict` starts from our weights;
//! - `steps.csv`: `step,loss,batch`, the batch's sample indices separated by spaces and the
//!   loss as the shortest decimal that reads back as the same double;
//! - `masks.bin`: for each step, each dropout layer's mask in layer order, one byte per unit
//!   (1 = kept), row-major N × units — the bytes a replay multiplies by.
//!
//! `benches/torch_replay.py DIR` replays one in PyTorch; docs/cnn.md ("The same function as
//! PyTorch") shows what that found.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::matrix::Float;
use crate::output::write_output;
use crate::session::Session;
use crate::train::DropoutMasks;

/// The trace's files, in the order a reader needs them.
pub const FILES: [&str; 3] = ["init.safetensors", "steps.csv", "masks.bin"];

/// A trace being recorded: the checkpoint is written at the start, the steps and masks are
/// kept in memory (a step of DeepConvNet adds about 0.4 KB of indices and 6 KB of masks) and
/// written when the run ends, however it ends.
pub struct Trace {
    dir: PathBuf,
    steps: String,
    masks: Vec<u8>,
}

impl Trace {
    /// The paths the trace will write, for the output checks made before any work.
    pub fn paths(dir: &Path) -> [PathBuf; 3] {
        FILES.map(|name| dir.join(name))
    }

    /// Writes the session's starting point into `dir` (made by [`Trace::create_dir`]).
    pub fn start<T: Float>(dir: &Path, session: &mut Session<T>) -> Result<Trace> {
        let [init, ..] = Trace::paths(dir);
        session.save(&init)?;
        Ok(Trace {
            dir: dir.to_path_buf(),
            steps: "step,loss,batch\n".to_string(),
            masks: Vec::new(),
        })
    }

    /// Creates the trace folder (before the output checks, which need it to exist).
    pub fn create_dir(dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| {
            Error::Config(format!(
                "--trace: cannot create the folder {}: {e}",
                dir.display()
            ))
        })
    }

    /// Records one step.
    pub fn record(&mut self, step: usize, loss: f64, batch: &[usize], dropout: DropoutMasks<'_>) {
        let _ = write!(self.steps, "{step},{loss:?},");
        for (k, i) in batch.iter().enumerate() {
            let sep = if k == 0 { "" } else { " " };
            let _ = write!(self.steps, "{sep}{i}");
        }
        self.steps.push('\n');
        dropout.for_each(|mask| self.masks.extend(mask.iter().map(|&kept| u8::from(kept))));
    }

    /// Writes the steps and masks recorded.
    pub fn finish(self) -> Result<()> {
        let [_, steps, masks] = Trace::paths(&self.dir);
        write_output(&steps, self.steps.as_bytes())?;
        write_output(&masks, &self.masks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_hold_exact_losses_and_batches_and_masks_one_byte_per_unit() {
        let mut t = Trace {
            dir: PathBuf::new(),
            steps: String::new(),
            masks: Vec::new(),
        };
        let loss = 0.1 + 0.2;
        let two: [&[bool]; 2] = [&[true, false], &[false, false, true]];
        let visit_two = |f: &mut dyn FnMut(&[bool])| two.iter().for_each(|m| f(m));
        t.record(1, loss, &[5, 0, 59999], DropoutMasks::new(&visit_two));
        t.record(2, 2.5, &[7], DropoutMasks::new(&|_| {}));
        assert_eq!(t.steps, format!("1,{loss:?},5 0 59999\n2,2.5,7\n"));
        let read: f64 = t.steps.split(',').nth(1).unwrap().parse().unwrap();
        assert_eq!(read.to_bits(), loss.to_bits());
        assert_eq!(t.masks, [1, 0, 0, 0, 1]);
    }
}
