//! Flex (f32): [`crate::aggregate::host`] on the tensors' own memory, without copies.

use burn::backend::Flex;
use burn::tensor::Tensor;

use super::{all_f32, tensor_of, Dense};
use crate::aggregate::{self, host, Adjacency, AggregationBackend, Reduce, Side};

impl AggregationBackend for Flex {
    type DeviceSide = ();

    fn upload_side(_side: &Side, _device: &Self::Device) -> Self::DeviceSide {}

    fn aggregate(adjacency: &Adjacency<Self>, x: Tensor<Self, 2>, reduce: Reduce) -> Tensor<Self, 2> {
        if !all_f32([&x]) {
            return aggregate::on_host(adjacency, x, reduce);
        }
        let [_, features] = x.dims();
        let csr = adjacency.csr();
        let x = Dense::new(x);
        let mut out = vec![0f32; csr.rows() * features];
        match reduce {
            Reduce::Sum => host::sum(csr, x.values(), features, &mut out),
            Reduce::Max => host::max(csr, x.values(), features, &mut out),
        }
        tensor_of(out, [csr.rows(), features])
    }

    fn aggregate_max_backward(
        adjacency: &Adjacency<Self>,
        x: Tensor<Self, 2>,
        grad: Tensor<Self, 2>,
    ) -> Tensor<Self, 2> {
        if !all_f32([&x, &grad]) {
            return aggregate::max_backward_on_host(adjacency, x, grad);
        }
        let [cols, features] = x.dims();
        let (x, grad) = (Dense::new(x), Dense::new(grad));
        let mut out = vec![0f32; cols * features];
        host::max_backward(
            adjacency.forward(),
            adjacency.backward(),
            x.values(),
            grad.values(),
            features,
            &mut out,
        );
        tensor_of(out, [cols, features])
    }
}
