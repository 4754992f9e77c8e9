//! The TFN / LMF reference architecture for sentiment regression (Zadeh et al. 2017, Liu et
//! al. 2018): one sub-network per
//! modality (an LSTM over the word vectors for text, an MLP for audio and for video), a
//! fusion layer, and a regression head whose output is squashed into the label range:
//!
//! ```text
//! z_text = LstmSubnet(x_text)  [B, text_out]     (x_text: [B, T, d_word])
//! z_audio = MlpSubnet(x_audio) [B, audio_hidden]
//! z_video = MlpSubnet(x_video) [B, video_hidden]
//! h = fusion(z_m for the chosen modalities)       [B, d_fused]
//! ŷ = 6 σ(w·h + b) − 3                            [B, 1], in (−3, 3)
//! ```

use crate::fusion::{
    Bilinear, BilinearConfig, Concat, ConcatConfig, Elementwise, ElementwiseConfig, ElementwiseOp, Fusion,
    LowRankFusion, LowRankFusionConfig, MlpFusion, MlpFusionConfig, TensorFusion, TensorFusionConfig,
};
use crate::subnet::{LstmSubnet, LstmSubnetConfig, MlpSubnet, MlpSubnetConfig};
use crate::validate::{check_input, Dim};
use crate::{FusionBackend, MosaicError};
use burn::config::Config;
use burn::module::{Content, Module, ModuleDisplay};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::sigmoid;
use burn::tensor::backend::Backend;
use burn::tensor::Tensor;
use mosaic_data::{Dataset, Modality};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The fusion layer of a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FusionKind {
    /// Early fusion: concatenation.
    Concat,
    /// Element-wise sum of projections.
    Sum,
    /// Element-wise product of projections.
    Product,
    /// An MLP on the concatenation.
    Mlp,
    /// Bilinear pooling (two modalities).
    Bilinear,
    /// Tensor fusion (TFN).
    Tfn,
    /// Low-rank multimodal fusion (LMF).
    Lmf,
}

impl FusionKind {
    /// Every kind, as named on the command line.
    pub const ALL: [FusionKind; 7] = [
        Self::Concat,
        Self::Sum,
        Self::Product,
        Self::Mlp,
        Self::Bilinear,
        Self::Tfn,
        Self::Lmf,
    ];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Concat => "concat",
            Self::Sum => "sum",
            Self::Product => "product",
            Self::Mlp => "mlp",
            Self::Bilinear => "bilinear",
            Self::Tfn => "tfn",
            Self::Lmf => "lmf",
        }
    }
}

impl fmt::Display for FusionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for FusionKind {
    type Err = MosaicError;

    fn from_str(s: &str) -> crate::Result<Self> {
        Self::ALL.into_iter().find(|k| k.name() == s).ok_or_else(|| {
            let names: Vec<_> = Self::ALL.iter().map(|k| k.name()).collect();
            MosaicError::invalid(
                MODEL,
                format!("unknown fusion `{s}` (expected one of {})", names.join(", ")),
            )
        })
    }
}

/// Everything needed to rebuild a model: saved next to its checkpoint as `config.json`.
#[derive(Config, Debug, PartialEq)]
pub struct ModelConfig {
    /// `text`, `audio`, `video`: the modalities the model reads, in that order.
    pub modalities: Vec<String>,
    /// The fusion layer.
    pub fusion: FusionKind,
    /// Words per text sequence.
    pub text_len: usize,
    /// Word-vector width.
    pub text_width: usize,
    /// Audio feature width.
    pub audio_width: usize,
    /// Visual feature width.
    pub video_width: usize,
    /// LSTM hidden width of the text sub-network.
    #[config(default = 16)]
    pub text_hidden: usize,
    /// Output width of the text sub-network.
    #[config(default = 8)]
    pub text_out: usize,
    /// Hidden (and output) width of the audio MLP.
    #[config(default = 8)]
    pub audio_hidden: usize,
    /// Hidden (and output) width of the video MLP.
    #[config(default = 8)]
    pub video_hidden: usize,
    /// Output width of the fusion layer (all but concat).
    #[config(default = 16)]
    pub fusion_out: usize,
    /// Rank of low-rank fusion.
    #[config(default = 4)]
    pub rank: usize,
    /// Dropout in the sub-networks and the MLP fusion.
    #[config(default = 0.1)]
    pub dropout: f64,
}

/// The fusion layer, one variant per [`FusionKind`] (sum and product share one).
#[derive(Module, Debug)]
#[module(custom_display)]
#[allow(clippy::large_enum_variant)]
pub enum FusionLayer<B: Backend> {
    /// Concatenation.
    Concat(Concat),
    /// Element-wise sum or product.
    Elementwise(Elementwise<B>),
    /// MLP fusion.
    Mlp(MlpFusion<B>),
    /// Bilinear pooling.
    Bilinear(Bilinear<B>),
    /// Tensor fusion.
    Tensor(TensorFusion<B>),
    /// Low-rank fusion.
    LowRank(LowRankFusion<B>),
}

impl<B: FusionBackend> FusionLayer<B> {
    fn layer(&self) -> &dyn Fusion<B> {
        match self {
            Self::Concat(l) => l,
            Self::Elementwise(l) => l,
            Self::Mlp(l) => l,
            Self::Bilinear(l) => l,
            Self::Tensor(l) => l,
            Self::LowRank(l) => l,
        }
    }
}

/// The sentiment model (module docs).
#[derive(Module, Debug)]
#[module(custom_display)]
pub struct SentimentModel<B: Backend> {
    /// Text sub-network, when text is used.
    pub text: Option<LstmSubnet<B>>,
    /// Audio sub-network, when audio is used.
    pub audio: Option<MlpSubnet<B>>,
    /// Video sub-network, when video is used.
    pub video: Option<MlpSubnet<B>>,
    /// The fusion layer.
    pub fusion: FusionLayer<B>,
    /// Regression head.
    pub head: Linear<B>,
}

/// A batch of inputs: one tensor per modality the model uses, and the labels.
pub struct Batch<B: Backend> {
    /// `[B, T, d_word]`.
    pub text: Option<Tensor<B, 3>>,
    /// `[B, d_audio]`.
    pub audio: Option<Tensor<B, 2>>,
    /// `[B, d_video]`.
    pub video: Option<Tensor<B, 2>>,
    /// `[B, 1]`.
    pub labels: Tensor<B, 2>,
}

/// The name errors give this model.
const MODEL: &str = "SentimentModel";

/// The largest input feature width (from the data) a model is built for.
pub const MAX_INPUT_WIDTH: usize = 1 << 16;
/// The largest hidden or output width, rank or text length of a model.
pub const MAX_WIDTH: usize = 1 << 12;

impl ModelConfig {
    /// The default sizes for `modalities` of `data` (its sequence length and widths), fused
    /// by `fusion`.
    pub fn for_dataset(data: &Dataset, modalities: &[Modality], fusion: FusionKind) -> Self {
        ModelConfig::new(
            modalities.iter().map(|m| m.name().to_string()).collect(),
            fusion,
            data.text_len,
            data.text_width,
            data.audio_width,
            data.video_width,
        )
    }

    /// Checks every size against its limit ([`MAX_INPUT_WIDTH`] for the data's widths,
    /// [`MAX_WIDTH`] for the rest; at least 1 each), the dropout and the modalities, before
    /// anything is allocated: sizes from a `config.json` or the command line pass here.
    ///
    /// # Errors
    /// Names the field, its value and the allowed range.
    pub fn check(&self) -> crate::Result<()> {
        self.modality_list()?;
        for (name, value, max) in [
            ("text_len", self.text_len, MAX_WIDTH),
            ("text_width", self.text_width, MAX_INPUT_WIDTH),
            ("audio_width", self.audio_width, MAX_INPUT_WIDTH),
            ("video_width", self.video_width, MAX_INPUT_WIDTH),
            ("text_hidden", self.text_hidden, MAX_WIDTH),
            ("text_out", self.text_out, MAX_WIDTH),
            ("audio_hidden", self.audio_hidden, MAX_WIDTH),
            ("video_hidden", self.video_hidden, MAX_WIDTH),
            ("fusion_out", self.fusion_out, MAX_WIDTH),
            ("rank", self.rank, MAX_WIDTH),
        ] {
            if !(1..=max).contains(&value) {
                return Err(MosaicError::config(
                    MODEL,
                    format!("{name} is {value}, expected 1 to {max}"),
                ));
            }
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(MosaicError::config(
                MODEL,
                format!("dropout is {}, expected a number in [0, 1)", self.dropout),
            ));
        }
        Ok(())
    }

    /// A lower bound of the elements of the model's weights (the sub-networks' weight
    /// matrices and the fusion layer's weight), without building it: what a record of this
    /// model holds at least. Saturates instead of overflowing.
    pub fn least_weight_elements(&self) -> u64 {
        let n = |x: usize| x as u64;
        let uses = |m: &str| self.modalities.iter().any(|x| x == m);
        let mut total = 0u64;
        let mut dims = Vec::new();
        if uses("text") {
            // Four gates, each with an input and a hidden weight; then the output layer.
            let h = n(self.text_hidden);
            let lstm = n(self.text_width)
                .saturating_add(h)
                .saturating_mul(4)
                .saturating_mul(h);
            total = total
                .saturating_add(lstm)
                .saturating_add(h.saturating_mul(n(self.text_out)));
            dims.push(n(self.text_out));
        }
        for (name, width, hidden) in [
            ("audio", self.audio_width, self.audio_hidden),
            ("video", self.video_width, self.video_hidden),
        ] {
            if uses(name) {
                // d → h, h → h, h → h.
                let h = n(hidden);
                let mlp = n(width).saturating_add(h.saturating_mul(2)).saturating_mul(h);
                total = total.saturating_add(mlp);
                dims.push(h);
            }
        }
        let out = n(self.fusion_out);
        let sum: u64 = dims.iter().fold(0, |a, &d| a.saturating_add(d));
        let fusion = match self.fusion {
            FusionKind::Concat => 0,
            FusionKind::Sum | FusionKind::Product | FusionKind::Mlp => sum.saturating_mul(out),
            FusionKind::Bilinear | FusionKind::Tfn => dims
                .iter()
                .fold(1u64, |p, &d| p.saturating_mul(d.saturating_add(1)))
                .saturating_mul(out),
            FusionKind::Lmf => {
                let hats = sum.saturating_add(dims.len() as u64);
                n(self.rank).saturating_mul(hats).saturating_mul(out)
            }
        };
        total.saturating_add(fusion)
    }

    /// The modalities, parsed.
    ///
    /// # Errors
    /// An unknown or repeated name.
    pub fn modality_list(&self) -> crate::Result<Vec<Modality>> {
        Ok(Modality::parse_list(&self.modalities.join(","))?)
    }

    /// Builds the model with fresh weights.
    ///
    /// # Errors
    /// A size [`ModelConfig::check`] refuses, or a configuration the layers reject (e.g.
    /// bilinear fusion of three modalities), with the layer's message.
    pub fn init<B: FusionBackend>(&self, device: &B::Device) -> crate::Result<SentimentModel<B>> {
        self.check()?;
        let modalities = self.modality_list()?;
        let uses = |m: Modality| modalities.contains(&m);
        let text = uses(Modality::Text)
            .then(|| {
                LstmSubnetConfig::new(self.text_width, self.text_hidden, self.text_out)
                    .with_dropout(self.dropout)
                    .init(device)
            })
            .transpose();
        let mlp = |m: Modality, width: usize, hidden: usize| {
            uses(m)
                .then(|| {
                    MlpSubnetConfig::new(width, hidden)
                        .with_dropout(self.dropout)
                        .init(device)
                })
                .transpose()
        };
        let text = text?;
        let audio = mlp(Modality::Audio, self.audio_width, self.audio_hidden)?;
        let video = mlp(Modality::Video, self.video_width, self.video_hidden)?;
        let dims: Vec<usize> = modalities
            .iter()
            .map(|m| match m {
                Modality::Text => self.text_out,
                Modality::Audio => self.audio_hidden,
                Modality::Video => self.video_hidden,
            })
            .collect();
        let out = self.fusion_out;
        let elementwise = |op| {
            ElementwiseConfig::new(dims.clone(), op)
                .with_projection_dim(Some(out))
                .init(device)
                .map(FusionLayer::Elementwise)
        };
        let fusion = match self.fusion {
            FusionKind::Concat => ConcatConfig::new(dims.clone()).init().map(FusionLayer::Concat),
            FusionKind::Sum => elementwise(ElementwiseOp::Sum),
            FusionKind::Product => elementwise(ElementwiseOp::Product),
            FusionKind::Mlp => MlpFusionConfig::new(dims.clone(), vec![out], out)
                .with_dropout(self.dropout)
                .init(device)
                .map(FusionLayer::Mlp),
            FusionKind::Bilinear => match dims[..] {
                [d_x, d_y] => BilinearConfig::new(d_x, d_y, out)
                    .init(device)
                    .map(FusionLayer::Bilinear),
                _ => {
                    return Err(MosaicError::config(
                        MODEL,
                        format!(
                            "bilinear fusion takes exactly 2 modalities, got {} ({})",
                            dims.len(),
                            self.modalities.join(",")
                        ),
                    ))
                }
            },
            FusionKind::Tfn => TensorFusionConfig::new(dims.clone(), out)
                .init(device)
                .map(FusionLayer::Tensor),
            FusionKind::Lmf => LowRankFusionConfig::new(dims.clone(), out, self.rank)
                .init(device)
                .map(FusionLayer::LowRank),
        }?;
        let head = LinearConfig::new(fusion.layer().output_dim(), 1).init(device);
        Ok(SentimentModel {
            text,
            audio,
            video,
            fusion,
            head,
        })
    }
}

impl<B: FusionBackend> SentimentModel<B> {
    /// Predictions in (−3, 3).
    ///
    /// # Shapes
    /// - `batch.text`: `[batch, text_len, text_width]`; `batch.audio`: `[batch, audio_width]`;
    ///   `batch.video`: `[batch, video_width]` (those the model reads)
    /// - output: `[batch, 1]`
    ///
    /// # Errors
    /// A batch without a tensor for one of the model's modalities, or of the wrong shape.
    pub fn forward(&self, batch: &Batch<B>) -> crate::Result<Tensor<B, 2>> {
        let missing = |m: &str| {
            MosaicError::invalid(
                MODEL,
                format!("the batch has no {m} tensor, but the model reads {m}"),
            )
        };
        let mut inputs = Vec::new();
        let mut rows = None;
        if let Some(net) = &self.text {
            let x = batch.text.clone().ok_or_else(|| missing("text"))?;
            check_modality(inputs.len(), "text", &x.dims(), net.d_input, &mut rows)?;
            inputs.push(net.forward(x)?);
        }
        for (net, x, name) in [
            (&self.audio, &batch.audio, "audio"),
            (&self.video, &batch.video, "video"),
        ] {
            if let Some(net) = net {
                let x = x.clone().ok_or_else(|| missing(name))?;
                check_modality(inputs.len(), name, &x.dims(), net.d_input, &mut rows)?;
                inputs.push(net.forward(x)?);
            }
        }
        let fused = self.fusion.layer().forward(&inputs)?;
        Ok(sigmoid(self.head.forward(fused)) * 6.0 - 3.0)
    }
}

/// The layer itself, as its own `Display` shows it.
impl<B: Backend> ModuleDisplay for FusionLayer<B> {
    fn custom_content(&self, content: Content) -> Option<Content> {
        match self {
            Self::Concat(layer) => content.add_single(layer),
            Self::Elementwise(layer) => content.add_single(layer),
            Self::Mlp(layer) => content.add_single(layer),
            Self::Bilinear(layer) => content.add_single(layer),
            Self::Tensor(layer) => content.add_single(layer),
            Self::LowRank(layer) => content.add_single(layer),
        }
        .optional()
    }
}

/// One line per part: the sub-networks the model has, the fusion layer and the head, each
/// with its widths and parameter count, then the model's parameter count.
impl<B: Backend> ModuleDisplay for SentimentModel<B> {
    fn custom_content(&self, content: Content) -> Option<Content> {
        let content = match &self.text {
            Some(net) => content.add("text", net),
            None => content,
        };
        let content = match &self.audio {
            Some(net) => content.add("audio", net),
            None => content,
        };
        let content = match &self.video {
            Some(net) => content.add("video", net),
            None => content,
        };
        content
            .add("fusion", &self.fusion)
            .add("head", &self.head)
            .optional()
    }
}

/// Checks the tensor of the model's `m`-th modality `name`: `[batch, width]` (text:
/// `[batch, time, width]`), with the batch of the modalities before it (`rows`, set by the
/// first).
fn check_modality(
    m: usize,
    name: &str,
    actual: &[usize],
    width: usize,
    rows: &mut Option<usize>,
) -> crate::Result<()> {
    let mut expected = vec![rows.map_or(Dim::NonEmpty("batch", "the batch"), Dim::Is)];
    if name == "text" {
        expected.push(Dim::NonEmpty("time", "the sequence"));
    }
    expected.push(Dim::Is(width));
    check_input(MODEL, Some(m), actual, &expected, &format!(" ({name})"))?;
    rows.get_or_insert(actual[0]);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{Cpu, CpuDevice};
    use burn::module::Module;

    fn config(modalities: &[&str], fusion: FusionKind) -> ModelConfig {
        ModelConfig::new(
            modalities.iter().map(std::string::ToString::to_string).collect(),
            fusion,
            4,
            5,
            3,
            6,
        )
    }

    /// The bound never exceeds the real count (burn's), and is most of it.
    #[test]
    fn least_weight_elements_bounds_the_parameter_count_from_below() {
        let device = CpuDevice::default();
        for fusion in FusionKind::ALL {
            let modalities: &[&str] = match fusion {
                FusionKind::Bilinear => &["text", "video"],
                _ => &["text", "audio", "video"],
            };
            let config = config(modalities, fusion);
            let params = config.init::<Cpu>(&device).unwrap().num_params() as u64;
            let least = config.least_weight_elements();
            assert!(
                least <= params && 10 * least >= 8 * params,
                "{fusion}: bound {least}, parameters {params}"
            );
        }
    }

    #[test]
    fn sizes_out_of_range_are_refused_before_allocation() {
        let device = CpuDevice::default();
        let mut huge = config(&["text", "audio"], FusionKind::Lmf);
        huge.rank = 1 << 40;
        let error = huge.init::<Cpu>(&device).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "SentimentModel config: rank is {}, expected 1 to {MAX_WIDTH}",
                1usize << 40
            )
        );
        assert!(huge.least_weight_elements() >= (1u64 << 40) * (8 + 1 + 8 + 1) * 16);
        let mut zero = config(&["audio"], FusionKind::Concat);
        zero.audio_width = 0;
        assert_eq!(
            zero.check().unwrap_err().to_string(),
            format!("SentimentModel config: audio_width is 0, expected 1 to {MAX_INPUT_WIDTH}")
        );
        let mut saturated = config(&["text", "audio", "video"], FusionKind::Tfn);
        saturated.text_out = usize::MAX;
        assert_eq!(saturated.least_weight_elements(), u64::MAX);
    }

    /// Bad inputs are named by the model's modality index and name, before any sub-network
    /// runs; a missing modality is named too.
    #[test]
    fn bad_batches_name_the_modality() {
        let device = CpuDevice::default();
        let model = config(&["text", "audio", "video"], FusionKind::Concat)
            .init::<Cpu>(&device)
            .unwrap();
        let batch = |text: [usize; 3], audio: [usize; 2], video: Option<[usize; 2]>| Batch {
            text: Some(Tensor::zeros(text, &device)),
            audio: Some(Tensor::zeros(audio, &device)),
            video: video.map(|shape| Tensor::zeros(shape, &device)),
            labels: Tensor::zeros([text[0], 1], &device),
        };
        let error = |b: Batch<Cpu>| model.forward(&b).unwrap_err().to_string();
        assert_eq!(
            error(batch([2, 4, 5], [2, 4], Some([2, 6]))),
            "SentimentModel: modality 1 has shape [2, 4], expected [2, 3] (audio)"
        );
        assert_eq!(
            error(batch([2, 4, 5], [2, 3], Some([3, 6]))),
            "SentimentModel: modality 2 has shape [3, 6], expected [2, 6] (video)"
        );
        assert_eq!(
            error(batch([2, 0, 5], [2, 3], Some([2, 6]))),
            "SentimentModel: modality 0 has shape [2, 0, 5]: the sequence must not be empty"
        );
        assert_eq!(
            error(batch([2, 4, 5], [2, 3], None)),
            "SentimentModel: the batch has no video tensor, but the model reads video"
        );
        assert!(model.forward(&batch([2, 4, 5], [2, 3], Some([2, 6]))).is_ok());
    }

    /// The display shows each part's widths and parameter count, counted by hand: text LSTM
    /// 4·(5·16 + 16·16 + 2·16) = 1472 plus its projection 16·8 + 8 = 136; low-rank fusion
    /// over widths [8, 8] to 16 at rank 4: 2 · 4·9·16 + 4 + 16 = 1172; head 16 + 1 = 17.
    #[test]
    fn display_shows_widths_rank_and_parameter_counts() {
        let device = CpuDevice::default();
        let model = config(&["text", "video"], FusionKind::Lmf)
            .init::<Cpu>(&device)
            .unwrap();
        let shown = model.to_string();
        for line in [
            "text: LstmSubnet {d_input: 5, d_hidden: 16, d_output: 8, params: 1608}",
            "fusion: LowRankFusion {modality_dims: [8, 8], d_output: 16, rank: 4, params: 1172}",
            "head: Linear {d_input: 16, d_output: 1, bias: true, params: 17}",
        ] {
            assert!(shown.contains(line), "{line:?} missing from\n{shown}");
        }
        // Batch norm: γ, β and the running mean and variance (burn counts all four).
        let video = 4 * 6 + (6 * 8 + 8) + 2 * (8 * 8 + 8);
        let total = 1608 + video + 1172 + 17;
        assert!(
            shown.contains(&format!(
                "video: MlpSubnet {{d_input: 6, d_hidden: 8, params: {video}}}"
            )),
            "{shown}"
        );
        assert!(shown.contains(&format!("params: {total}")), "{shown}");
        assert_eq!(model.num_params(), total);
    }
}
