//! The bidirectional hinge ranking loss of visual-semantic embeddings (Kiros et al. 2014,
//! "VSE"), and its max-violation variant (Faghri et al. 2018, "VSE++"): each pair must be
//! more similar than every non-pair by a margin `α`, in both directions.
//!
//! With `S`: `[n, n]` the similarities of a batch of `n` pairs (`S_ij = sim(a_i, b_j)`, pairs
//! on the diagonal):
//!
//! ```text
//! c_ij = [α − S_ii + S_ij]_+        (a_i as the query, b_j a wrong answer)
//! c'_ij = [α − S_jj + S_ij]_+       (b_j as the query, a_i a wrong answer)
//!
//! sum (VSE):   L = (1/n) Σ_i Σ_{j≠i} (c_ij + c'_ji)
//! max (VSE++): L = (1/n) Σ_i (max_{j≠i} c_ij + max_{j≠i} c'_ji)
//! ```
//!
//! (`[x]_+ = max(x, 0)`.) The papers sum over the batch; mosaic divides by `n` so that the
//! learning rate does not depend on the batch size. The max variant's gradient flows only
//! through the hardest negative of each query (the first one, on ties).

use super::similarity::{check_square, diagonal};
use crate::{MosaicError, Result};
use burn::tensor::{backend::Backend, Tensor};

const WHAT: &str = "hinge ranking loss";

/// Which negatives of each query [`hinge_ranking_loss`] counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Negatives {
    /// Every negative's violation, summed (VSE).
    Sum,
    /// Only the hardest negative's (VSE++).
    Max,
}

/// The bidirectional hinge ranking loss of the similarities `s` of `n` pairs.
///
/// # Shapes
/// - `similarities`: `[n, n]`, `n ≥ 2`, pairs on the diagonal
/// - output: `[1]`
///
/// # Errors
/// [`MosaicError::Shape`] for a matrix that is not square or has fewer than two pairs, and
/// [`MosaicError::Invalid`] for a margin that is not finite and above 0.
pub fn hinge_ranking_loss<B: Backend>(
    similarities: Tensor<B, 2>,
    margin: f64,
    negatives: Negatives,
) -> Result<Tensor<B, 1>> {
    let n = check_square(WHAT, similarities.dims())?;
    if !(margin.is_finite() && margin > 0.0) {
        return Err(MosaicError::invalid(
            WHAT,
            format!("margin {margin}: expected a finite margin above 0 (0.2 in VSE++)"),
        ));
    }
    let diagonal = diagonal(similarities.clone()); // [n, 1]: S_ii
                                                   // Both cost matrices hold exactly α on the diagonal (S_ii − S_ii + α).
    let row_costs = (similarities.clone() - diagonal.clone() + margin).clamp_min(0.0);
    let column_costs = (similarities - diagonal.transpose() + margin).clamp_min(0.0);
    let total = match negatives {
        Negatives::Sum => row_costs.sum() + column_costs.sum() - 2.0 * n as f64 * margin,
        Negatives::Max => {
            let on_diagonal = Tensor::<B, 2>::eye(n, &row_costs.device()).bool();
            let row_costs = row_costs.mask_fill(on_diagonal.clone(), 0.0);
            let column_costs = column_costs.mask_fill(on_diagonal, 0.0);
            row_costs.max_dim(1).sum() + column_costs.max_dim(0).sum()
        }
    };
    Ok(total / n as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::*;

    /// `S = [[0.9, 0.5, 0.1], [0.8, 0.3, −0.2], [0.0, 0.35, 0.6]]`, margin 0.2, worked by
    /// hand. Rows (a_i as query): row 0: [.2−.9+.5]_+ = 0, [.2−.9+.1]_+ = 0; row 1: [.2−.3+.8]
    /// = .7, [.2−.3−.2]_+ = 0; row 2: [.2−.6+0]_+ = 0, [.2−.6+.35]_+ = 0. Columns (b_j as
    /// query): column 0: [.2−.9+.8] = .1, [.2−.9+0]_+ = 0; column 1: [.2−.3+.5] = .4,
    /// [.2−.3+.35] = .25; column 2: [.2−.6+.1]_+ = 0, [.2−.6−.2]_+ = 0.
    /// Sum: (.7 + .1 + .4 + .25) / 3. Max: (.7 + .1 + .4) / 3 = 0.4.
    fn by_hand<B: TestBackend>(device: &B::Device) {
        let s = || Tensor::<B, 2>::from_floats([[0.9, 0.5, 0.1], [0.8, 0.3, -0.2], [0.0, 0.35, 0.6]], device);
        let sum = hinge_ranking_loss(s(), 0.2, Negatives::Sum).unwrap();
        assert_close("sum", &to_f64(sum), &[1.45 / 3.0], 1e-6);
        let max = hinge_ranking_loss(s(), 0.2, Negatives::Max).unwrap();
        assert_close("max", &to_f64(max), &[0.4], 1e-6);
        // The max variant's gradient: 1/3 on each hardest violating negative (S_10 for row 1,
        // S_10 again for column 0, S_01 for column 1), −1/3 on its positive, per violation.
        let leaf = s().require_grad();
        let grads = hinge_ranking_loss(leaf.clone(), 0.2, Negatives::Max)
            .unwrap()
            .backward();
        let third = 1.0 / 3.0;
        let expected = [
            -third,
            third,
            0.0, // S_00: positive of column 0; S_01: column 1's negative
            2.0 * third,
            -2.0 * third,
            0.0, // S_10: negative of row 1 and column 0; S_11: positive of row 1 and column 1
            0.0,
            0.0,
            0.0,
        ];
        assert_close(
            "max gradient",
            &to_f64(leaf.grad(&grads).unwrap()),
            &expected,
            1e-6,
        );
    }
    for_each_backend!(losses_by_hand, by_hand);

    #[test]
    fn bad_input_is_named() {
        let device = Default::default();
        let s = Tensor::<Reference, 2>::zeros([2, 2], &device);
        for margin in [0.0, -1.0, f64::NAN] {
            let err = hinge_ranking_loss(s.clone(), margin, Negatives::Sum).unwrap_err();
            assert!(
                err.to_string()
                    .starts_with(&format!("hinge ranking loss: margin {margin}: expected")),
                "{err}"
            );
        }
        let err = hinge_ranking_loss(
            Tensor::<Reference, 2>::zeros([1, 1], &device),
            0.2,
            Negatives::Max,
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("has shape [1, 1], expected [n, n] with n ≥ 2"),
            "{err}"
        );
    }
}
