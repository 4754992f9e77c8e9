//! Weights in the reference PyTorch layouts, as safetensors files.
//!
//! A model trained with the reference PyTorch code (TFN, LMF, their sub-networks) gives the
//! same outputs here once its `state_dict` is saved with `safetensors.torch.save_file` and
//! loaded with [`load_safetensors`]. Keys and layouts, per layer (`p.` is the prefix):
//!
//! | layer | tensors (PyTorch layout) |
//! |---|---|
//! | [`TensorFusion`](crate::fusion::TensorFusion), [`Bilinear`](crate::fusion::Bilinear) | `p.weight` `[O, P]`, `p.bias` `[O]` (an `nn.Linear(P, O)`) |
//! | [`LowRankFusion`](crate::fusion::LowRankFusion) | `p.factors.{m}` `[R, d_m + 1, O]`, `p.fusion_weights` `[1, R]`, `p.fusion_bias` `[1, O]` |
//! | [`Elementwise`](crate::fusion::Elementwise) | `p.projections.{m}.weight` `[k, d_m]`, `p.projections.{m}.bias` |
//! | [`MlpFusion`](crate::fusion::MlpFusion) | `p.layers.{l}.weight` `[out, in]`, `p.layers.{l}.bias` |
//! | [`Concat`](crate::fusion::Concat) | none |
//! | [`MlpSubnet`](crate::subnet::MlpSubnet) | `p.norm.{weight,bias,running_mean,running_var}`, `p.linear_{1,2,3}.{weight,bias}` |
//! | [`LstmSubnet`](crate::subnet::LstmSubnet) | `p.rnn.{weight_ih_l0,weight_hh_l0,bias_ih_l0,bias_hh_l0}` (gates i, f, g, o), `p.linear_1.{weight,bias}` |
//!
//! The original LMF code names its factors `audio_factor`, `video_factor`, `text_factor`:
//! map them with [`WeightStore::rename`].
//!
//! ```
//! use mosaic::backend::{Cpu, CpuDevice};
//! use mosaic::fusion::{Fusion, LowRankFusionConfig};
//! use mosaic::interop::{load_safetensors, save_safetensors};
//!
//! let device = CpuDevice::default();
//! let lmf = LowRankFusionConfig::new(vec![4, 3], 2, 5).init::<Cpu>(&device)?;
//! let path = std::env::temp_dir().join("mosaic-doc-lmf.safetensors");
//! save_safetensors(&lmf, "fusion", &path)?;
//! let fresh = LowRankFusionConfig::new(vec![4, 3], 2, 5).init::<Cpu>(&device)?;
//! let loaded = load_safetensors(fresh, "fusion", &path)?;
//! assert_eq!(
//!     loaded.bias.val().into_data(),
//!     lmf.bias.val().into_data(),
//! );
//! # std::fs::remove_file(&path).ok();
//! # Ok::<(), mosaic::MosaicError>(())
//! ```

#[cfg(test)]
mod fixture_tests;
mod layers;

use crate::{MosaicError, Result};
use burn::module::Param;
use burn::tensor::{backend::Backend, ops::FloatElem, Tensor, TensorData};
use safetensors::{Dtype, SafeTensors};
use std::collections::HashMap;
use std::path::Path;

/// One tensor in PyTorch layout: its key, shape and values (f32, row-major).
#[derive(Debug, Clone, PartialEq)]
pub struct NamedTensor {
    /// Key in the weight file.
    pub key: String,
    /// Shape.
    pub shape: Vec<usize>,
    /// Values, row-major.
    pub values: Vec<f32>,
}

/// The float tensors of a safetensors file, by key.
#[derive(Debug, Clone, Default)]
pub struct WeightStore {
    tensors: HashMap<String, (Vec<usize>, Vec<f32>)>,
}

/// A module whose weights can be written and read in the reference PyTorch layout.
pub trait PytorchWeights: Sized {
    /// Appends this module's tensors, keys prefixed with `prefix`, to `out`.
    fn export_weights(&self, prefix: &str, out: &mut Vec<NamedTensor>);

    /// Replaces this module's weights with those under `prefix` in `store`.
    ///
    /// # Errors
    /// [`MosaicError::Weights`] naming the key when a tensor is missing or has another shape.
    fn import_weights(self, store: &WeightStore, prefix: &str) -> Result<Self>;
}

/// `prefix.name`, or `name` alone when the prefix is empty.
pub fn key(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

impl WeightStore {
    /// A store holding `tensors`.
    pub fn from_tensors(tensors: impl IntoIterator<Item = NamedTensor>) -> Self {
        Self {
            tensors: tensors
                .into_iter()
                .map(|t| (t.key, (t.shape, t.values)))
                .collect(),
        }
    }

    /// Parses a safetensors buffer. Float tensors (f16, bf16, f32, f64) are kept as f32;
    /// tensors of other types (e.g. batch norm's `num_batches_tracked`) are ignored.
    ///
    /// # Errors
    /// [`MosaicError::WeightsFile`] when the buffer is not a safetensors file.
    pub fn from_bytes(bytes: &[u8], source: &Path) -> Result<Self> {
        let file = SafeTensors::deserialize(bytes).map_err(|e| MosaicError::WeightsFile {
            path: source.to_path_buf(),
            message: e.to_string(),
        })?;
        let tensors = file
            .tensors()
            .into_iter()
            .filter_map(|(name, view)| {
                let values = decode_floats(view.dtype(), view.data())?;
                Some((name, (view.shape().to_vec(), values)))
            })
            .collect();
        Ok(Self { tensors })
    }

    /// Reads a safetensors file.
    ///
    /// # Errors
    /// [`MosaicError::Io`] when the file cannot be read, [`MosaicError::WeightsFile`] when it
    /// is not a safetensors file.
    pub fn open(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|source| MosaicError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_bytes(&bytes, path)
    }

    /// Moves the tensor at `from` to `to` (e.g. `"audio_factor"` to `"fusion.factors.0"`).
    ///
    /// # Errors
    /// [`MosaicError::Weights`] when there is no float tensor at `from`.
    pub fn rename(mut self, from: &str, to: &str) -> Result<Self> {
        let tensor = self.tensors.remove(from).ok_or_else(|| self.missing(from))?;
        self.tensors.insert(to.to_string(), tensor);
        Ok(self)
    }

    /// The values of the tensor at `key`, which must have shape `shape`.
    ///
    /// # Errors
    /// [`MosaicError::Weights`] when the key is missing or the shape differs.
    pub fn get(&self, key: &str, shape: &[usize]) -> Result<&[f32]> {
        let (actual, values) = self.tensors.get(key).ok_or_else(|| self.missing(key))?;
        if actual != shape {
            return Err(MosaicError::Weights {
                key: key.to_string(),
                message: format!("expected shape {shape:?}, found {actual:?}"),
            });
        }
        Ok(values)
    }

    /// The tensor at `key` as a rank-`D` burn tensor on `device`, whatever its shape.
    ///
    /// # Errors
    /// [`MosaicError::Weights`] when the key is missing or the tensor's rank is not `D`.
    pub fn tensor<B: Backend, const D: usize>(&self, key: &str, device: &B::Device) -> Result<Tensor<B, D>> {
        let (shape, _) = self.tensors.get(key).ok_or_else(|| self.missing(key))?;
        let shape: [usize; D] = shape.as_slice().try_into().map_err(|_| MosaicError::Weights {
            key: key.to_string(),
            message: format!("expected a rank-{D} tensor, found shape {shape:?}"),
        })?;
        tensor_from(self, key, shape, device)
    }

    /// Keys of the tensors held, sorted.
    pub fn keys(&self) -> Vec<&str> {
        let mut keys: Vec<&str> = self.tensors.keys().map(String::as_str).collect();
        keys.sort_unstable();
        keys
    }

    fn missing(&self, key: &str) -> MosaicError {
        let keys = self.keys();
        let shown = keys.iter().take(12).copied().collect::<Vec<_>>().join(", ");
        let more = if keys.len() > 12 { ", ..." } else { "" };
        MosaicError::Weights {
            key: key.to_string(),
            message: format!("not found (float tensors present: {shown}{more})"),
        }
    }
}

fn decode_floats(dtype: Dtype, bytes: &[u8]) -> Option<Vec<f32>> {
    fn words<const N: usize>(bytes: &[u8]) -> impl Iterator<Item = [u8; N]> + '_ {
        bytes
            .chunks_exact(N)
            .map(|c| c.try_into().expect("chunk of N bytes"))
    }
    Some(match dtype {
        Dtype::F32 => words::<4>(bytes).map(f32::from_le_bytes).collect(),
        Dtype::F64 => words::<8>(bytes).map(|w| f64::from_le_bytes(w) as f32).collect(),
        Dtype::F16 => words::<2>(bytes)
            .map(|w| half::f16::from_le_bytes(w).to_f32())
            .collect(),
        Dtype::BF16 => words::<2>(bytes)
            .map(|w| half::bf16::from_le_bytes(w).to_f32())
            .collect(),
        _ => return None,
    })
}

/// Serialises `module`'s weights (keys under `prefix`) as a safetensors buffer.
///
/// # Errors
/// [`MosaicError::WeightsFile`] if serialisation fails.
pub fn to_safetensors_bytes<M: PytorchWeights>(module: &M, prefix: &str) -> Result<Vec<u8>> {
    let mut tensors = Vec::new();
    module.export_weights(prefix, &mut tensors);
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .into_iter()
        .map(|t| {
            (
                t.key,
                t.shape,
                t.values.iter().flat_map(|v| v.to_le_bytes()).collect(),
            )
        })
        .collect();
    let views = bytes
        .iter()
        .map(|(key, shape, data)| {
            safetensors::tensor::TensorView::new(Dtype::F32, shape.clone(), data)
                .map(|view| (key.clone(), view))
        })
        .collect::<std::result::Result<Vec<_>, _>>()
        .and_then(|views| safetensors::serialize(views, None));
    views.map_err(|e| MosaicError::WeightsFile {
        path: "<memory>".into(),
        message: e.to_string(),
    })
}

/// Writes `module`'s weights to `path` in PyTorch layout. The file appears whole or not at
/// all (written next to `path`, then renamed).
///
/// # Errors
/// [`MosaicError::Io`] when the file cannot be written.
pub fn save_safetensors<M: PytorchWeights>(module: &M, prefix: &str, path: &Path) -> Result<()> {
    let bytes = to_safetensors_bytes(module, prefix)?;
    let io = |source| MosaicError::Io {
        path: path.to_path_buf(),
        source,
    };
    let partial = path.with_extension("safetensors.partial");
    std::fs::write(&partial, bytes).map_err(io)?;
    std::fs::rename(&partial, path).map_err(io)
}

/// Reads weights in PyTorch layout from `path` into `module` (keys under `prefix`).
///
/// # Errors
/// [`MosaicError::Io`] / [`MosaicError::WeightsFile`] for an unreadable file,
/// [`MosaicError::Weights`] for a missing tensor or one of the wrong shape.
pub fn load_safetensors<M: PytorchWeights>(module: M, prefix: &str, path: &Path) -> Result<M> {
    module.import_weights(&WeightStore::open(path)?, prefix)
}

/// The values of `tensor` as f32, row-major.
pub(crate) fn values<B: Backend, const D: usize>(tensor: Tensor<B, D>) -> Vec<f32> {
    tensor.into_data().iter::<f32>().collect()
}

/// Appends `tensor` under `key`.
pub(crate) fn export<B: Backend, const D: usize>(
    out: &mut Vec<NamedTensor>,
    key: String,
    tensor: Tensor<B, D>,
) {
    out.push(NamedTensor {
        key,
        shape: tensor.dims().to_vec(),
        values: values(tensor),
    });
}

/// A tensor of shape `shape` from `key` in `store`, on `device`, in the backend's float type.
pub(crate) fn tensor_from<B: Backend, const D: usize>(
    store: &WeightStore,
    key: &str,
    shape: [usize; D],
    device: &B::Device,
) -> Result<Tensor<B, D>> {
    let values = store.get(key, &shape)?;
    let data = TensorData::new(values.to_vec(), shape).convert::<FloatElem<B>>();
    Ok(Tensor::from_data(data, device))
}

/// Replaces `param`'s value with the tensor at `key` (same shape as `param`).
pub(crate) fn import_param<B: Backend, const D: usize>(
    param: Param<Tensor<B, D>>,
    store: &WeightStore,
    key: &str,
) -> Result<Param<Tensor<B, D>>> {
    let shape: [usize; D] = param.lazy_shape().dims();
    let tensor = tensor_from(store, key, shape, &param.lazy_device())?;
    Ok(param.map(|old| tensor.set_require_grad(old.is_require_grad())))
}
