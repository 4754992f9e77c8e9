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
//! them all.

use std::ops::{Deref, DerefMut};
use std::sync::Mutex;

use super::zeroed_output;

/// Buffers kept for reuse at most.
pub const MAX_BUFFERS: usize = 16;
/// Bytes kept for reuse at most (128 MiB).
pub const MAX_POOLED_BYTES: usize = 128 << 20;

static POOL: Mutex<Vec<Vec<f32>>> = Mutex::new(Vec::new());

/// Frees every pooled buffer.
pub(crate) fn release() {
    POOL.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clear();
}

/// A buffer of `f32` from the pool, returned to it on drop. Its contents are whatever an
/// earlier user left (finite values or zeros): write before reading, or [`Scratch::zeroed`].
pub(crate) struct Scratch(Vec<f32>);

impl Scratch {
    /// A buffer of `len` elements with unspecified contents.
    pub(crate) fn new(len: usize) -> Self {
        let reused = {
            let mut pool = POOL.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            // The smallest buffer that is large enough.
            let best = pool
                .iter()
                .enumerate()
                .filter(|(_, v)| v.capacity() >= len)
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
