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
