//! Reused buffers for the CPU paths' intermediates.
//!
//! A fused call's intermediates (projections, partial outer products, GEMM blocks) are
//! megabytes each. Fresh allocations of that size come from the kernel as new pages, and
//! faulting them in cost as much as the arithmetic in the low-rank forward pass (measured
//! with `perf`: a quarter of its time in page faults). Buffers taken here go back to a
//! small process-wide pool when dropped and are handed out again by the next call.
//!
//! The pool keeps at most [`MAX_BUFFERS`] buffers and [`MAX_POOLED_BYTES`] in all;
//! a buffer that does not fit is freed. [`release_buffers`](super::release_buffers) frees
//! them all. A buffer can also become a tensor's memory ([`Scratch::into_tensor`]: the
//! low-rank path's kept projections, outputs and gradients), and comes back to the pool when
//! the tensor is freed, so that a training step's results cost no page faults from one step
//! to the next.

use std::mem::MaybeUninit;
use std::ops::{Deref, DerefMut};
use std::sync::Mutex;

use burn::backend::flex::FlexTensor;
use burn::backend::Flex;
use burn::tensor::{DType, Shape, Tensor, TensorData, TensorPrimitive};
use burn_std::{AllocationController, AllocationProperty, Bytes};

use super::zeroed_output;

/// Buffers kept for reuse at most.
pub const MAX_BUFFERS: usize = 32;
/// Bytes kept for reuse at most (128 MiB).
pub const MAX_POOLED_BYTES: usize = 128 << 20;
/// How many times larger than asked a pooled buffer handed out may be.
const MAX_OVERSIZE: usize = 4;

static POOL: Mutex<Vec<Vec<f32>>> = Mutex::new(Vec::new());

/// Frees every pooled buffer.
pub(crate) fn release() {
    POOL.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clear();
}

/// A buffer of `f32` from the pool, returned to it on drop. Its contents are whatever an
/// earlier user left (any f32 values, zeros in a fresh one): write before reading, or
/// [`Scratch::zeroed`].
pub(crate) struct Scratch(Vec<f32>);

impl Scratch {
    /// A buffer of `len` elements with unspecified contents.
    pub(crate) fn new(len: usize) -> Self {
        let reused = {
            let mut pool = POOL.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            // The smallest buffer that is large enough, and not more than `MAX_OVERSIZE`
            // times too large: a small request leaves a large buffer to the large request
            // that follows it.
            let best = pool
                .iter()
                .enumerate()
                .filter(|(_, v)| v.capacity() >= len && v.capacity() <= len.saturating_mul(MAX_OVERSIZE))
                .min_by_key(|(_, v)| v.capacity())
                .map(|(i, _)| i);
            best.map(|i| pool.swap_remove(i))
        };
        match reused {
            Some(mut values) => {
                // Shrinking keeps the old values (no write); growing within the capacity
                // writes zeros past the old end.
                values.truncate(len);
                values.resize(len, 0.0);
                Scratch(values)
            }
            None => Scratch(zeroed_output(len)),
        }
    }

    /// A buffer of `len` zeros.
    pub(crate) fn zeroed(len: usize) -> Self {
        let mut scratch = Scratch::new(len);
        scratch.fill(0.0);
        scratch
    }

    /// Keeps the first `len` elements (no more than it has).
    pub(crate) fn truncate(&mut self, len: usize) {
        self.0.truncate(len);
    }

    /// The buffer as a tensor of `shape` (as many elements as the buffer), without a copy;
    /// it goes back to the pool when the tensor's memory is freed. For results that live
    /// from one call to the next (the projections a training step's forward pass keeps for
    /// its backward pass): taken from the pool, they cost no page faults.
    pub(crate) fn into_tensor<const D: usize>(self, shape: [usize; D]) -> Tensor<Flex, D> {
        assert_eq!(
            shape.iter().product::<usize>(),
            self.len(),
            "into_tensor: shape and length differ"
        );
        let len = std::mem::size_of_val::<[f32]>(&self);
        // SAFETY: the controller's memory is the buffer's `len` bytes, all initialised (the
        // bytes of its f32 elements).
        let bytes = unsafe { Bytes::from_controller(Box::new(Pooled(self)), len) };
        let primitive = FlexTensor::from_data(TensorData::from_bytes(bytes, Shape::new(shape), DType::F32));
        Tensor::from_primitive(TensorPrimitive::Float(primitive))
    }
}

/// A pooled buffer as the storage of a tensor's bytes ([`Scratch::into_tensor`]).
struct Pooled(Scratch);

impl AllocationController for Pooled {
    fn alloc_align(&self) -> usize {
        std::mem::align_of::<f32>()
    }

    fn property(&self) -> AllocationProperty {
        AllocationProperty::Other
    }

    unsafe fn memory_mut(&mut self) -> &mut [MaybeUninit<u8>] {
        let values: &mut [f32] = &mut self.0;
        // SAFETY: the bytes of the buffer's own elements; any bytes written through it make
        // valid f32 values.
        unsafe { std::slice::from_raw_parts_mut(values.as_mut_ptr().cast(), std::mem::size_of_val(values)) }
    }

    fn memory(&self) -> &[MaybeUninit<u8>] {
        let values: &[f32] = &self.0;
        // SAFETY: the bytes of the buffer's own elements, read-only.
        unsafe { std::slice::from_raw_parts(values.as_ptr().cast(), std::mem::size_of_val(values)) }
    }
}

impl Deref for Scratch {
    type Target = [f32];

    fn deref(&self) -> &[f32] {
        &self.0
    }
}

impl DerefMut for Scratch {
    fn deref_mut(&mut self) -> &mut [f32] {
        &mut self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let values = std::mem::take(&mut self.0);
        let bytes = |v: &Vec<f32>| v.capacity() * std::mem::size_of::<f32>();
        let mut pool = POOL.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let pooled: usize = pool.iter().map(bytes).sum();
        if pool.len() < MAX_BUFFERS && pooled + bytes(&values) <= MAX_POOLED_BYTES {
            pool.push(values);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_come_back_with_the_asked_length_and_zeroed_on_request() {
        {
            let mut a = Scratch::new(1000);
            a.fill(7.0);
        }
        // Reused (or fresh): the length asked, and `zeroed` really is zero.
        let b = Scratch::new(10);
        assert_eq!(b.len(), 10);
        assert!(b.iter().all(|x| *x == 7.0 || *x == 0.0));
        drop(b);
        // A buffer shortened by an earlier use grows back to the length asked.
        let b = Scratch::new(1000);
        assert_eq!(b.len(), 1000);
        drop(b);
        let c = Scratch::zeroed(2000);
        assert_eq!(c.len(), 2000);
        assert!(c.iter().all(|x| *x == 0.0));
    }

    /// A tensor on a pooled buffer reads back the buffer's values, and burn's ops on it (an
    /// in-place one on its only handle, one on a clone) see and change only its own values.
    #[test]
    fn a_tensor_on_a_pooled_buffer_holds_the_buffer_values() {
        let values = [1.0, -2.0, 3.5, 4.0, 0.0, 6.25];
        let mut buffer = Scratch::new(values.len());
        buffer.copy_from_slice(&values);
        let tensor = buffer.into_tensor([2, 3]);
        assert_eq!(tensor.dims(), [2, 3]);
        assert_eq!(tensor.to_data().to_vec::<f32>().unwrap(), values);
        let kept = tensor.clone();
        let doubled = tensor.mul_scalar(2.0);
        let expected: Vec<f32> = values.iter().map(|v| v * 2.0).collect();
        assert_eq!(doubled.to_data().to_vec::<f32>().unwrap(), expected);
        assert_eq!(kept.to_data().to_vec::<f32>().unwrap(), values);
        let added = kept.add_scalar(1.0);
        let expected: Vec<f32> = values.iter().map(|v| v + 1.0).collect();
        assert_eq!(added.to_data().to_vec::<f32>().unwrap(), expected);
    }

    #[test]
    fn the_pool_stays_within_its_bounds() {
        let buffers: Vec<Scratch> = (0..2 * MAX_BUFFERS).map(|_| Scratch::new(1 << 20)).collect();
        drop(buffers);
        let pool = POOL.lock().unwrap();
        assert!(pool.len() <= MAX_BUFFERS);
        let bytes: usize = pool.iter().map(|v| v.capacity() * 4).sum();
        assert!(bytes <= MAX_POOLED_BYTES, "{bytes} bytes pooled");
    }
}
