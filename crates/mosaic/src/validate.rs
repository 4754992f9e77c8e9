//! The checks every layer, sub-network and model runs on its configuration and its inputs:
//! one place that words the errors.

use crate::{MosaicError, Result};
use burn::tensor::{backend::Backend, Tensor};

/// Checks a configuration's modality widths: at least `min_modalities` of them, none zero.
pub(crate) fn check_modality_dims(layer: &'static str, dims: &[usize], min_modalities: usize) -> Result<()> {
    if dims.len() < min_modalities {
        return Err(MosaicError::config(
            layer,
            format!(
                "needs at least {min_modalities} {}, got {} ({dims:?})",
                if min_modalities == 1 {
                    "modality"
                } else {
                    "modalities"
                },
                dims.len()
            ),
        ));
    }
    match dims.iter().position(|&d| d == 0) {
        Some(m) => Err(MosaicError::config(
            layer,
            format!("modality {m} has width 0 (modality widths {dims:?}); widths must be at least 1"),
        )),
        None => Ok(()),
    }
}

/// The most elements one parameter tensor may have: `i32::MAX` (8 GiB of f32), the largest
/// count every backend can index. A configuration whose parameters would be larger is
/// refused before anything is allocated.
pub const MAX_PARAMETER_ELEMENTS: usize = i32::MAX as usize;

/// The element count `Π shape` of the parameter `name`, refused (a [`MosaicError::Config`]
/// naming the layer, the parameter and its shape) when the product overflows or exceeds
/// [`MAX_PARAMETER_ELEMENTS`].
pub(crate) fn check_parameter_size(layer: &'static str, name: &str, shape: &[usize]) -> Result<usize> {
    shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .filter(|&n| n <= MAX_PARAMETER_ELEMENTS)
        .ok_or_else(|| {
            MosaicError::config(
                layer,
                format!(
                    "parameter `{name}` of shape {shape:?} would have more than {MAX_PARAMETER_ELEMENTS} elements"
                ),
            )
        })
}

/// `d + 1` for the width `d` of a modality with the constant 1 prepended, checked.
pub(crate) fn with_constant(layer: &'static str, d: usize) -> Result<usize> {
    d.checked_add(1)
        .ok_or_else(|| MosaicError::config(layer, format!("modality width {d} + 1 overflows")))
}

/// Checks the shape of a layer's parameter (which a loaded record may have changed) against
/// the one its configuration gives.
pub(crate) fn check_parameter_shape(
    layer: &'static str,
    name: &str,
    actual: &[usize],
    expected: &[usize],
) -> Result<()> {
    if actual == expected {
        Ok(())
    } else {
        Err(MosaicError::Parameter {
            layer,
            name: name.to_string(),
            expected: expected.to_vec(),
            actual: actual.to_vec(),
        })
    }
}

/// Checks that a configuration value is at least 1.
pub(crate) fn check_positive(layer: &'static str, name: &str, value: usize) -> Result<()> {
    if value == 0 {
        Err(MosaicError::config(
            layer,
            format!("{name} must be at least 1, got 0"),
        ))
    } else {
        Ok(())
    }
}

/// Checks a dropout probability is in [0, 1).
pub(crate) fn check_dropout(layer: &'static str, p: f64) -> Result<()> {
    if (0.0..1.0).contains(&p) {
        Ok(())
    } else {
        Err(MosaicError::config(
            layer,
            format!("dropout must be in [0, 1), got {p}"),
        ))
    }
}

/// What one dimension of an input must be, for [`check_input`].
#[derive(Debug, Clone, Copy)]
pub(crate) enum Dim {
    /// Exactly this size (a configured width, or the batch of an earlier modality).
    Is(usize),
    /// Any size but 0: the dimension's name in the expected shape (`batch`, `time`) and, for
    /// the error when it is 0, what it counts (`the batch`, `the sequence`).
    NonEmpty(&'static str, &'static str),
}

/// Checks one input's shape: its rank and every [`Dim`] of `expected`, then that no
/// [`Dim::NonEmpty`] dimension is 0. `modality` names the input among several (`None` for
/// a network's single input); `note` follows the expected shape in the message.
///
/// # Errors
/// [`MosaicError::Shape`] or [`MosaicError::Empty`], naming `layer`, the modality, the
/// expected and the actual shape.
pub(crate) fn check_input(
    layer: &'static str,
    modality: Option<usize>,
    actual: &[usize],
    expected: &[Dim],
    note: &str,
) -> Result<()> {
    let fits = |(&size, dim): (&usize, &Dim)| match *dim {
        Dim::Is(n) => size == n,
        Dim::NonEmpty(..) => true,
    };
    if actual.len() != expected.len() || !actual.iter().zip(expected).all(fits) {
        let dims: Vec<String> = expected
            .iter()
            .map(|dim| match *dim {
                Dim::Is(n) => n.to_string(),
                Dim::NonEmpty(name, _) => name.to_string(),
            })
            .collect();
        return Err(MosaicError::Shape {
            layer,
            modality,
            expected: format!("[{}]{note}", dims.join(", ")),
            actual: actual.to_vec(),
        });
    }
    for (&size, dim) in actual.iter().zip(expected) {
        if let (0, Dim::NonEmpty(_, what)) = (size, *dim) {
            return Err(MosaicError::Empty {
                layer,
                modality,
                what,
                actual: actual.to_vec(),
            });
        }
    }
    Ok(())
}

/// Checks one tensor per modality against the configured widths and returns the batch
/// size: every input must be `[batch, dims[m]]`, with modality 0's `batch`, not 0.
///
/// # Errors
/// [`MosaicError::ModalityCount`], or [`check_input`]'s errors for the first input that
/// does not fit.
pub(crate) fn validate_inputs<B: Backend>(
    layer: &'static str,
    dims: &[usize],
    inputs: &[Tensor<B, 2>],
) -> Result<usize> {
    if inputs.len() != dims.len() {
        return Err(MosaicError::ModalityCount {
            layer,
            expected: dims.len(),
            actual: inputs.len(),
        });
    }
    let batch = inputs[0].dims()[0];
    for (modality, (input, &width)) in inputs.iter().zip(dims).enumerate() {
        let (first, note) = if modality == 0 {
            (Dim::NonEmpty("batch", "the batch"), " ([batch, d_0])".to_string())
        } else {
            (
                Dim::Is(batch),
                format!(" ([batch, d_{modality}], batch from modality 0)"),
            )
        };
        check_input(
            layer,
            Some(modality),
            &input.dims(),
            &[first, Dim::Is(width)],
            &note,
        )?;
    }
    Ok(batch)
}
