//! The training half of a checkpoint: what `train --resume` needs besides the model — the
//! optimizer's state tensors (`optimizer.<k>.<slot>`) and the `train_state` metadata entry
//! (the trainer's position and history, the optimizer's settings, the dropout streams).

use std::collections::BTreeMap;
use std::path::Path;

use super::{Checkpoint, OPTIMIZER_PREFIX, float_tensor, save_with};
use crate::error::{Error, Result};
use crate::matrix::Float;
use crate::nn::network::Network;
use crate::optim::{Optimizer, OptimizerConfig, OptimizerState};
use crate::train::TrainState;

/// The layout of the `train_state` metadata entry; a file with another is refused by name.
pub const TRAIN_STATE_VERSION: u32 = 2;

/// What the `train_state` metadata entry holds, as JSON derived from the types: the trainer's
/// state and history, the optimizer's settings and step count, and how far each dropout
/// layer's random stream has run.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedTraining {
    version: u32,
    state: TrainState,
    optimizer: OptimizerConfig,
    optimizer_step: u64,
    dropout_calls: BTreeMap<usize, u64>,
}

/// Writes `net`, its optimizer and the trainer's state, so `train --resume` continues the run
/// exactly. The optimizer's slots are extra tensors `optimizer.<k>.<slot>`; the trainer's
/// counters, epoch history and dropout counters go in the `train_state` metadata entry.
pub fn save_training<T: Float>(
    net: &mut Network<T>,
    opt: &Optimizer<T>,
    state: &TrainState,
    extra: &BTreeMap<String, String>,
    path: &Path,
) -> Result<()> {
    let mut tensors = Vec::new();
    for (k, slots) in opt.state.slots.iter().enumerate() {
        for (j, slot) in slots.iter().enumerate() {
            tensors.push((
                format!("{OPTIMIZER_PREFIX}{k}.{j}"),
                float_tensor::<T>(vec![slot.len()], slot.iter().copied()),
            ));
        }
    }
    let mut dropout_calls = BTreeMap::new();
    net.visit_rng_calls(&mut |i, c| {
        dropout_calls.insert(i, *c);
    });
    let saved = SavedTraining {
        version: TRAIN_STATE_VERSION,
        state: state.clone(),
        optimizer: opt.config,
        optimizer_step: opt.state.step,
        dropout_calls,
    };
    let json = serde_json::to_string(&saved).expect("training state serialises");
    let mut meta = extra.clone();
    meta.insert("train_state".into(), json);
    save_with(net, &meta, tensors, path)
}

/// Restores the optimizer and trainer state saved by [`save_training`] into `ckpt`'s network
/// (its dropout counters) and returns them; errors if the file holds only a model.
pub fn load_training<T: Float>(
    path: &Path,
    ckpt: &mut Checkpoint<T>,
) -> Result<(Optimizer<T>, TrainState)> {
    let fmt = |what: String| Error::format(path, what);
    let raw = ckpt.metadata.get("train_state").ok_or_else(|| {
        fmt("holds a model but no training state: save it with `train --save` to resume".into())
    })?;
    let saved: SavedTraining = serde_json::from_str(raw)
        .map_err(|e| fmt(format!("its training state is invalid: {e}")))?;
    if saved.version != TRAIN_STATE_VERSION {
        return Err(fmt(format!(
            "its training state is version {}, this scratchnet reads version \
             {TRAIN_STATE_VERSION}: resume it with the scratchnet that wrote it",
            saved.version
        )));
    }
    let config = saved.optimizer;
    let lr = config.lr();
    if !(lr > 0.0 && lr.is_finite()) {
        return Err(fmt(format!(
            "training state 'lr' must be a positive number, not {lr}"
        )));
    }
    config
        .validate()
        .map_err(|e| fmt(format!("training state 'optimizer': {e}")))?;
    let state = saved.state;
    let finite = [
        state.epoch_loss_sum,
        state.epoch_seconds,
        state.history.final_loss,
        state.history.train_seconds,
        state.history.eval_seconds,
    ];
    if finite.iter().any(|v| !v.is_finite()) || state.history.iterations != state.iteration {
        return Err(fmt(
            "its training state is inconsistent: non-finite sums or two iteration counts".into(),
        ));
    }
    if let Some(last) = state.history.epochs.last()
        && (last.iterations > state.iteration || state.history.epochs.len() > state.iteration)
    {
        return Err(fmt(format!(
            "training state is inconsistent: {} epoch records up to iteration {}, but only \
                 {} iterations done",
            state.history.epochs.len(),
            last.iterations,
            state.iteration
        )));
    }
    let trace = &state.history.losses;
    if trace.stride == 0
        || !trace.stride.is_power_of_two()
        || trace.points.len() > crate::train::LossTrace::MAX_POINTS
    {
        return Err(fmt("its training state has an invalid loss trace".into()));
    }
    // Optimizer slots, in the network's parameter order.
    let mut lengths = Vec::new();
    ckpt.net
        .visit_params(&mut |_, p| lengths.push(p.value.len()));
    let mut slots = Vec::new();
    for (k, &len) in lengths.iter().enumerate() {
        let mut tensor_slots = Vec::new();
        for s in 0.. {
            let name = format!("{OPTIMIZER_PREFIX}{k}.{s}");
            let Some((shape, values)) = ckpt.optimizer.remove(&name) else {
                break;
            };
            if shape != [len] {
                return Err(fmt(format!(
                    "tensor {name} has shape {shape:?}, expected [{len}]"
                )));
            }
            tensor_slots.push(values);
        }
        slots.push(tensor_slots);
    }
    if let Some(extra) = ckpt.optimizer.keys().next() {
        return Err(fmt(format!(
            "tensor {extra} matches no parameter slot of the {} optimizer",
            config.name()
        )));
    }
    let step = saved.optimizer_step;
    if step == 0 || config.slots() == 0 {
        slots.clear(); // SGD, or no step taken yet: the optimizer recreates its (empty) slots
    } else if let Some((k, s)) = slots
        .iter()
        .enumerate()
        .find(|(_, s)| s.len() != config.slots())
    {
        // After a step every parameter has every slot; a missing one would index out of
        // bounds in the update.
        return Err(fmt(format!(
            "the {} optimizer keeps {} state tensor(s) per parameter, parameter {k} has {}",
            config.name(),
            config.slots(),
            s.len()
        )));
    }
    ckpt.net.visit_rng_calls(&mut |i, c| {
        if let Some(v) = saved.dropout_calls.get(&i) {
            *c = *v;
        }
    });
    Ok((
        Optimizer {
            config,
            state: OptimizerState { step, slots },
        },
        state,
    ))
}
