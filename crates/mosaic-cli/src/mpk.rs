//! A check of burn's named MessagePack records (`model.mpk`) before they are loaded.
//!
//! burn turns a record's tensors into backend tensors without comparing their bytes with
//! their shapes, so a tensor whose bytes are shorter than its shape is later read out of
//! bounds. [`check`] walks the whole MessagePack document once (nothing of it is kept but
//! counts) and refuses any map with the fields of a tensor (`bytes`, `shape`, `dtype`) whose
//! byte count is not `Π shape × dtype size`, or whose dtype is not a float. Memory stays
//! bounded by the file: the decoder reads a string or byte array only as far as the bytes
//! really are there (a declared length past the end is an error, not an allocation), shapes are collected one dimension at a time
//! (at most [`MAX_RANK`]), and nesting is limited by the decoder (1024 levels).

use burn::tensor::DType;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::fmt;

/// Why a record was refused: what is wrong with it, in words (the shape of the tensor at
/// fault, or the decoder's message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RecordError(String);

impl From<String> for RecordError {
    fn from(message: String) -> Self {
        RecordError(message)
    }
}

impl From<&str> for RecordError {
    fn from(message: &str) -> Self {
        RecordError(message.into())
    }
}

/// The most dimensions a tensor's shape may have.
pub const MAX_RANK: usize = 8;

/// What a valid record holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checked {
    /// Tensors.
    pub tensors: usize,
    /// Their bytes, in all.
    pub tensor_bytes: u64,
}

/// A value, as far as the check needs it.
enum Node {
    Bytes(usize),
    Text(String),
    Unsigned(u64),
    /// A sequence: its elements as dimensions when every one is an unsigned integer and
    /// there are at most [`MAX_RANK`] of them.
    Sequence(Option<Vec<u64>>),
    Other,
}

/// Walks one value, adding the tensors it finds to the counts.
struct Walk<'a>(&'a mut Checked);

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = Node;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Node, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a MessagePack value")
    }
    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Other)
    }
    fn visit_none<E>(self) -> Result<Node, E> {
        Ok(Node::Other)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Node, E> {
        Ok(Node::Other)
    }
    fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
        Ok(Node::Unsigned(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
        Ok(u64::try_from(v).map_or(Node::Other, Node::Unsigned))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Node, E> {
        Ok(Node::Other)
    }
    fn visit_str<E>(self, v: &str) -> Result<Node, E> {
        // Field names and dtypes are short; a long string is kept as nothing.
        Ok(if v.len() <= 64 {
            Node::Text(v.to_string())
        } else {
            Node::Other
        })
    }
    fn visit_bytes<E>(self, v: &[u8]) -> Result<Node, E> {
        Ok(Node::Bytes(v.len()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut dims = Some(Vec::new());
        while let Some(node) = seq.next_element_seed(Walk(&mut *self.0))? {
            dims = match (dims, node) {
                (Some(mut d), Node::Unsigned(v)) if d.len() < MAX_RANK => {
                    d.push(v);
                    Some(d)
                }
                _ => None,
            };
        }
        Ok(Node::Sequence(dims))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let (mut bytes, mut shape, mut dtype, mut tensor) = (None, None, None, false);
        while let Some(key) = map.next_key_seed(Walk(&mut *self.0))? {
            let value = map.next_value_seed(Walk(&mut *self.0))?;
            if let Node::Text(key) = key {
                let slot = match key.as_str() {
                    "bytes" => &mut bytes,
                    "shape" => &mut shape,
                    "dtype" => &mut dtype,
                    _ => continue,
                };
                *slot = Some(value);
                tensor = true;
            }
        }
        if tensor {
            let size = tensor_bytes(bytes, shape, dtype).map_err(de::Error::custom)?;
            self.0.tensors += 1;
            self.0.tensor_bytes = self.0.tensor_bytes.saturating_add(size);
        }
        Ok(Node::Other)
    }
}

/// The byte count of one tensor, after checking it against its shape and dtype.
fn tensor_bytes(bytes: Option<Node>, shape: Option<Node>, dtype: Option<Node>) -> Result<u64, RecordError> {
    let Some(Node::Bytes(len)) = bytes else {
        return Err("a tensor without its bytes (a MessagePack bin)".into());
    };
    let Some(Node::Sequence(Some(dims))) = shape else {
        return Err(format!("a tensor whose shape is not a list of at most {MAX_RANK} sizes").into());
    };
    let Some(Node::Text(name)) = dtype else {
        return Err(format!("a tensor of shape {dims:?} without a float dtype").into());
    };
    let dtype =
        DType::deserialize(de::value::StrDeserializer::<de::value::Error>::new(&name)).map_err(|_| {
            RecordError(format!(
                "a tensor of shape {dims:?} has the unknown dtype `{name}`"
            ))
        })?;
    if !dtype.is_float() {
        return Err(format!("a tensor of shape {dims:?} has dtype {name}, expected a float").into());
    }
    let expected = dims
        .iter()
        .try_fold(1u64, |n, &d| n.checked_mul(d))
        .and_then(|n| n.checked_mul(dtype.size() as u64))
        .ok_or_else(|| RecordError(format!("a tensor of shape {dims:?} is too large to address")))?;
    if expected != len as u64 {
        return Err(format!(
            "a tensor of shape {dims:?} and dtype {name} needs {expected} bytes but holds {len}"
        )
        .into());
    }
    Ok(expected)
}

/// Checks every tensor of the record in `bytes` against its shape (module docs).
///
/// # Errors
/// Bytes that are not one MessagePack document, trailing bytes, a record without tensors,
/// or a tensor whose bytes, shape or dtype disagree (named by its shape).
pub fn check(bytes: &[u8]) -> Result<Checked, RecordError> {
    let mut checked = Checked {
        tensors: 0,
        tensor_bytes: 0,
    };
    let mut decoder = rmp_serde::Deserializer::new(std::io::Cursor::new(bytes));
    Walk(&mut checked)
        .deserialize(&mut decoder)
        .map_err(|e| RecordError(e.to_string()))?;
    let trailing = bytes.len() as u64 - decoder.position();
    if trailing != 0 {
        return Err(format!("{trailing} bytes after the record").into());
    }
    if checked.tensors == 0 {
        return Err("no tensors".into());
    }
    Ok(checked)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;
    use serde::Serialize;

    #[derive(Serialize)]
    struct Record {
        name: &'static str,
        params: Vec<TensorData>,
    }

    fn encode(params: Vec<TensorData>) -> Vec<u8> {
        rmp_serde::to_vec_named(&Record { name: "test", params }).unwrap()
    }

    #[test]
    fn counts_valid_tensors_and_refuses_bytes_that_disagree_with_the_shape() {
        let good = encode(vec![
            TensorData::new(vec![1.0f32; 6], [2, 3]),
            TensorData::new(vec![0.5f64; 4], [4]),
        ]);
        assert_eq!(
            check(&good).unwrap(),
            Checked {
                tensors: 2,
                tensor_bytes: 6 * 4 + 4 * 8
            }
        );
        // A shape that claims more than the bytes hold (as a hostile file would).
        let mut short = TensorData::new(vec![1.0f32; 6], [2, 3]);
        short.shape = vec![3, 3].into();
        let error = check(&encode(vec![short])).unwrap_err().to_string();
        assert!(
            error.contains("shape [3, 3] and dtype F32 needs 36 bytes but holds 24"),
            "{error}"
        );
        let ints = check(&encode(vec![TensorData::new(vec![1i64; 2], [2])]))
            .unwrap_err()
            .to_string();
        assert!(ints.contains("dtype I64, expected a float"), "{ints}");
        assert!(check(&good[..good.len() - 1]).is_err(), "truncated");
        assert!(check(&[good.as_slice(), &[0]].concat())
            .unwrap_err()
            .to_string()
            .contains("1 bytes after"));
        assert_eq!(check(&encode(vec![])).unwrap_err().to_string(), "no tensors");
    }
}
