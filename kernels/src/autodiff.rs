//! `Autodiff<B>`: the fused ops as single graph nodes with hand-written backward passes.
//!
//! The forward pass runs `B`'s fused op; the backward pass calls `B`'s
//! [`tensor_fusion_backward`](FusionBackend::tensor_fusion_backward) or
//! [`low_rank_fusion_backward`](FusionBackend::low_rank_fusion_backward). The inputs are
//! kept for the backward pass, never an outer product; low-rank fusion also keeps the
//! per-modality projections where `B` hands them over
//! ([`low_rank_fusion_keeping`](FusionBackend::low_rank_fusion_keeping): flex, within a
//! memory limit), so that its backward pass need not compute them again.
//!
//! burn's `Backward<B, N>` wants the number of parent nodes at compile time; the number of
//! modalities is known only at run time, so [`record`] dispatches over `N` up to
//! [`MAX_PARENTS`]. Beyond that (more than 14 modalities for tensor fusion, 7 for low-rank
//! fusion) the op is built from burn operations and differentiated by burn.

use std::marker::PhantomData;

use burn::backend::autodiff::checkpoint::{base::Checkpointer, strategy::CheckpointStrategy};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::Autodiff;
use burn::tensor::{backend::Backend, ops::FloatTensor, Tensor, TensorPrimitive};

use crate::aggregate::{Adjacency, AggregationBackend, Reduce, Side};
use crate::{low_rank, tensor_fusion, FusionBackend};

fn primitive<B: Backend, const D: usize>(tensor: Tensor<B, D>) -> FloatTensor<B> {
    tensor.into_primitive().tensor()
}

fn tensor<B: Backend, const D: usize>(primitive: FloatTensor<B>) -> Tensor<B, D> {
    Tensor::from_primitive(TensorPrimitive::Float(primitive))
}

/// A fused op of the inner backend: its forward pass and the gradient of each parent.
trait FusedOp<B: Backend>: Clone + Send + std::fmt::Debug + 'static {
    /// What a tracked forward pass keeps for the backward pass besides the parents.
    type Kept: Clone + Send + std::fmt::Debug + Default + 'static;

    fn forward(&self, parents: &[FloatTensor<B>]) -> FloatTensor<B>;

    /// The forward pass of a tracked node, and what it keeps (by default nothing).
    fn forward_keeping(&self, parents: &[FloatTensor<B>]) -> (FloatTensor<B>, Self::Kept) {
        (self.forward(parents), Self::Kept::default())
    }

    fn backward(
        &self,
        parents: &[FloatTensor<B>],
        kept: Self::Kept,
        grad: FloatTensor<B>,
    ) -> Vec<FloatTensor<B>>;
}

/// Parents: the `M` inputs `[B, d_m]`, the weight `[P, O]`, then the bias `[O]` if any.
#[derive(Debug, Clone, Copy)]
struct TensorFusionOp {
    modalities: usize,
    has_bias: bool,
}

impl<B: FusionBackend> FusedOp<B> for TensorFusionOp {
    type Kept = ();

    fn forward(&self, parents: &[FloatTensor<B>]) -> FloatTensor<B> {
        let inputs: Vec<Tensor<B, 2>> = parents[..self.modalities].iter().cloned().map(tensor).collect();
        let weight = tensor(parents[self.modalities].clone());
        let bias = self
            .has_bias
            .then(|| tensor(parents[self.modalities + 1].clone()));
        primitive(B::tensor_fusion(&inputs, weight, bias))
    }

    fn backward(&self, parents: &[FloatTensor<B>], (): (), grad: FloatTensor<B>) -> Vec<FloatTensor<B>> {
        let inputs: Vec<Tensor<B, 2>> = parents[..self.modalities].iter().cloned().map(tensor).collect();
        let weight = tensor(parents[self.modalities].clone());
        let grads = B::tensor_fusion_backward(&inputs, weight, tensor(grad));
        let mut out: Vec<FloatTensor<B>> = grads.inputs.into_iter().map(primitive).collect();
        out.push(primitive(grads.weight));
        if self.has_bias {
            out.push(primitive(grads.bias));
        }
        out
    }
}

/// Parents: the `M` inputs `[B, d_m]`, the `M` factors `[R, d_m + 1, O]`, the rank
/// weights `[1, R]` and the bias `[1, O]`.
#[derive(Debug, Clone, Copy)]
struct LowRankFusionOp {
    modalities: usize,
}

/// The parents of a low-rank fusion node, in order: inputs `[B, d_m]`, factors
/// `[R, d_m + 1, O]`, rank weights `[1, R]` and bias `[1, O]`.
type LowRankParents<B> = (Vec<Tensor<B, 2>>, Vec<Tensor<B, 3>>, Tensor<B, 2>, Tensor<B, 2>);

impl LowRankFusionOp {
    fn split<B: Backend>(&self, parents: &[FloatTensor<B>]) -> LowRankParents<B> {
        let m = self.modalities;
        (
            parents[..m].iter().cloned().map(tensor).collect(),
            parents[m..2 * m].iter().cloned().map(tensor).collect(),
            tensor(parents[2 * m].clone()),
            tensor(parents[2 * m + 1].clone()),
        )
    }
}

impl<B: FusionBackend> FusedOp<B> for LowRankFusionOp {
    /// The projections `[R, B, O]` the inner backend kept, per modality.
    type Kept = Vec<Option<FloatTensor<B>>>;

    fn forward(&self, parents: &[FloatTensor<B>]) -> FloatTensor<B> {
        let (inputs, factors, rank_weights, bias) = self.split(parents);
        primitive(B::low_rank_fusion(&inputs, &factors, rank_weights, bias))
    }

    fn forward_keeping(&self, parents: &[FloatTensor<B>]) -> (FloatTensor<B>, Self::Kept) {
        let (inputs, factors, rank_weights, bias) = self.split(parents);
        let (output, kept) = B::low_rank_fusion_keeping(&inputs, &factors, rank_weights, bias);
        (
            primitive(output),
            kept.into_iter().map(|p| p.map(primitive)).collect(),
        )
    }

    fn backward(
        &self,
        parents: &[FloatTensor<B>],
        kept: Self::Kept,
        grad: FloatTensor<B>,
    ) -> Vec<FloatTensor<B>> {
        let (inputs, factors, rank_weights, _) = self.split(parents);
        let kept: Vec<Option<Tensor<B, 3>>> = kept.into_iter().map(|p| p.map(tensor)).collect();
        let grads = B::low_rank_fusion_backward(&inputs, &factors, rank_weights, tensor(grad), &kept);
        let mut out: Vec<FloatTensor<B>> = grads.inputs.into_iter().map(primitive).collect();
        out.extend(grads.factors.into_iter().map(primitive));
        out.push(primitive(grads.rank_weights));
        out.push(primitive(grads.bias));
        out
    }
}

/// Sparse aggregation: one parent, `x` `[cols, F]`; the adjacency is a constant.
#[derive(Debug, Clone)]
struct AggregateOp<B: AggregationBackend> {
    adjacency: Adjacency<B>,
    reduce: Reduce,
}

impl<B: AggregationBackend> FusedOp<B> for AggregateOp<B> {
    type Kept = ();

    fn forward(&self, parents: &[FloatTensor<B>]) -> FloatTensor<B> {
        primitive(B::aggregate(
            &self.adjacency,
            tensor(parents[0].clone()),
            self.reduce,
        ))
    }

    fn backward(&self, parents: &[FloatTensor<B>], (): (), grad: FloatTensor<B>) -> Vec<FloatTensor<B>> {
        let grad = tensor(grad);
        let x_grad = match self.reduce {
            Reduce::Sum => B::aggregate(&self.adjacency.transpose(), grad, Reduce::Sum),
            Reduce::Max => B::aggregate_max_backward(&self.adjacency, tensor(parents[0].clone()), grad),
        };
        vec![primitive(x_grad)]
    }
}

/// The graph node of a fused op with `N` parents.
#[derive(Debug)]
struct FusedBackward<Op, const N: usize>(PhantomData<Op>);

impl<B: Backend, Op: FusedOp<B>, const N: usize> Backward<B, N> for FusedBackward<Op, N> {
    type State = (Op, Vec<FloatTensor<B>>, Op::Kept);

    fn backward(self, ops: Ops<Self::State, N>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let grad = grads.consume::<B>(&ops.node);
        let (op, parents, kept) = ops.state;
        for (parent, value) in ops.parents.into_iter().zip(op.backward(&parents, kept, grad)) {
            if let Some(node) = parent {
                grads.register::<B>(node.id, value);
            }
        }
    }
}

fn record_n<B: Backend, C: CheckpointStrategy, Op: FusedOp<B>, const N: usize>(
    op: Op,
    parents: Vec<FloatTensor<Autodiff<B, C>>>,
) -> FloatTensor<Autodiff<B, C>> {
    let nodes: [_; N] = parents
        .iter()
        .map(|parent| parent.node.clone())
        .collect::<Vec<_>>()
        .try_into()
        .unwrap_or_else(|_| unreachable!("record dispatches on the number of parents"));
    let primitives: Vec<FloatTensor<B>> = parents.into_iter().map(|parent| parent.primitive).collect();
    match FusedBackward::<Op, N>(PhantomData)
        .prepare::<C>(nodes)
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => {
            let (output, kept) = op.forward_keeping(&primitives);
            prep.finish((op, primitives, kept), output)
        }
        OpsKind::UnTracked(prep) => prep.finish(op.forward(&primitives)),
    }
}

/// Records `op` as one graph node, or `None` when it has more than 16 parents.
fn record<B: Backend, C: CheckpointStrategy, Op: FusedOp<B>>(
    op: Op,
    parents: Vec<FloatTensor<Autodiff<B, C>>>,
) -> Option<FloatTensor<Autodiff<B, C>>> {
    macro_rules! dispatch {
        ($($n:literal)*) => {
            match parents.len() {
                $($n => Some(record_n::<B, C, Op, $n>(op, parents)),)*
                _ => None,
            }
        };
    }
    dispatch!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16)
}

impl<B: FusionBackend, C: CheckpointStrategy> FusionBackend for Autodiff<B, C> {
    fn tensor_fusion(
        inputs: &[Tensor<Self, 2>],
        weight: Tensor<Self, 2>,
        bias: Option<Tensor<Self, 1>>,
    ) -> Tensor<Self, 2> {
        let op = TensorFusionOp {
            modalities: inputs.len(),
            has_bias: bias.is_some(),
        };
        let mut parents: Vec<_> = inputs.iter().cloned().map(primitive).collect();
        parents.push(primitive(weight.clone()));
        parents.extend(bias.clone().map(primitive));
        match record::<B, C, _>(op, parents) {
            Some(output) => tensor(output),
            None => tensor_fusion::forward(inputs, weight, bias),
        }
    }

    fn low_rank_fusion(
        inputs: &[Tensor<Self, 2>],
        factors: &[Tensor<Self, 3>],
        rank_weights: Tensor<Self, 2>,
        bias: Tensor<Self, 2>,
    ) -> Tensor<Self, 2> {
        let op = LowRankFusionOp {
            modalities: inputs.len(),
        };
        let mut parents: Vec<_> = inputs.iter().cloned().map(primitive).collect();
        parents.extend(factors.iter().cloned().map(primitive));
        parents.push(primitive(rank_weights.clone()));
        parents.push(primitive(bias.clone()));
        match record::<B, C, _>(op, parents) {
            Some(output) => tensor(output),
            None => low_rank::forward(inputs, factors, rank_weights, bias),
        }
    }
}

impl<B: AggregationBackend, C: CheckpointStrategy> AggregationBackend for Autodiff<B, C> {
    type DeviceSide = B::DeviceSide;

    fn upload_side(side: &Side, device: &Self::Device) -> Self::DeviceSide {
        B::upload_side(side, device)
    }

    fn aggregate(adjacency: &Adjacency<Self>, x: Tensor<Self, 2>, reduce: Reduce) -> Tensor<Self, 2> {
        let op = AggregateOp {
            adjacency: adjacency.cast::<B>(),
            reduce,
        };
        tensor(record::<B, C, _>(op, vec![primitive(x)]).unwrap_or_else(|| unreachable!("one parent")))
    }

    /// Not differentiated further: computed on the inner backend.
    fn aggregate_max_backward(
        adjacency: &Adjacency<Self>,
        x: Tensor<Self, 2>,
        grad: Tensor<Self, 2>,
    ) -> Tensor<Self, 2> {
        Tensor::from_inner(B::aggregate_max_backward(
            &adjacency.cast::<B>(),
            x.inner(),
            grad.inner(),
        ))
    }
}
