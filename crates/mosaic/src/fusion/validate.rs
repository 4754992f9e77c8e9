//! Shape checks shared by every fusion layer.

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

/// Checks `inputs` against the configured widths and returns the batch size.
///
/// Every input must be `[batch, dims[m]]` with the same, non-zero `batch`.
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
        let shape = input.dims();
        if shape != [batch, width] {
            return Err(MosaicError::Shape {
                layer,
                modality,
                expected: format!("[{batch}, {width}] ([batch, d_{modality}], batch from modality 0)"),
                actual: shape.to_vec(),
            });
        }
    }
    if batch == 0 {
        return Err(MosaicError::Empty {
            layer,
            modality: 0,
            what: "the batch",
            actual: inputs[0].dims().to_vec(),
        });
    }
    Ok(batch)
}
