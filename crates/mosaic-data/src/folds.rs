//! CMU-MOSI's standard video folds, as published with the CMU-MultimodalSDK
//! (`mmsdk.mmdatasdk.dataset.standard_datasets.CMU_MOSI.cmu_mosi_std_folds`): 52 training,
//! 10 validation and 31 test videos.

use crate::SplitName;

/// Training videos.
pub const TRAIN: [&str; 52] = [
    "2iD-tVS8NPw",
    "8d-gEyoeBzc",
    "Qr1Ca94K55A",
    "Ci-AH39fi3Y",
    "8qrpnFRGt2A",
    "Bfr499ggo-0",
    "QN9ZIUWUXsY",
    "9T9Hf74oK10",
    "7JsX8y1ysxY",
    "1iG0909rllw",
    "Oz06ZWiO20M",
    "BioHAh1qJAQ",
    "9c67fiY0wGQ",
    "Iu2PFX3z_1s",
    "Nzq88NnDkEk",
    "Clx4VXItLTE",
    "9J25DZhivz8",
    "Af8D0E4ZXaw",
    "TvyZBvOMOTc",
    "W8NXH0Djyww",
    "8OtFthrtaJM",
    "0h-zjBukYpk",
    "Vj1wYRQjB-o",
    "GWuJjcEuzt8",
    "BI97DNYfe5I",
    "PZ-lDQFboO8",
    "1DmNV9C1hbY",
    "OQvJTdtJ2H4",
    "I5y0__X72p0",
    "9qR7uwkblbs",
    "G6GlGvlkxAQ",
    "6_0THN4chvY",
    "Njd1F0vZSm4",
    "BvYR0L6f2Ig",
    "03bSnISJMiM",
    "Dg_0XKD0Mf4",
    "5W7Z1C_fDaE",
    "VbQk4H8hgr0",
    "G-xst2euQUc",
    "MLal-t_vJPM",
    "BXuRRbG0Ugk",
    "LSi-o-IrDMs",
    "Jkswaaud0hk",
    "2WGyTLYerpo",
    "6Egk_28TtTM",
    "Sqr0AcuoNnk",
    "POKffnXeBds",
    "73jzhE8R1TQ",
    "OtBXNcAL_lE",
    "HEsqda8_d0Q",
    "VCslbP0mgZI",
    "IumbAb8q2dM",
];

/// Validation videos.
pub const VALID: [&str; 10] = [
    "WKA5OygbEKI",
    "c5xsKMxpXnc",
    "atnd_PF-Lbs",
    "bvLlb-M3UXU",
    "bOL9jKpeJRs",
    "_dI--eQ6qVU",
    "ZAIRrfG22O0",
    "X3j2zQgwYgE",
    "aiEXnCPZubE",
    "ZUXBRvtny7o",
];

/// Test videos.
pub const TEST: [&str; 31] = [
    "tmZoasNr4rU",
    "zhpQhgha_KU",
    "lXPQBPVc5Cw",
    "iiK8YX8oH1E",
    "tStelxIAHjw",
    "nzpVDcQ0ywM",
    "etzxEpPuc6I",
    "cW1FSBF59ik",
    "d6hH302o4v8",
    "k5Y_838nuGo",
    "pLTX3ipuDJI",
    "jUzDDGyPkXU",
    "f_pcplsH_V0",
    "yvsjCA6Y5Fc",
    "nbWiPyCm4g0",
    "rnaNMUZpvvg",
    "wMbj6ajWbic",
    "cM3Yna7AavY",
    "yDtzw_Y-7RU",
    "vyB00TXsimI",
    "dq3Nf_lMPnE",
    "phBUpBr1hSo",
    "d3_k5Xpfmik",
    "v0zCBqDeKcE",
    "tIrG4oNLFzE",
    "fvVhgmXxadc",
    "ob23OKe5a9Q",
    "cXypl4FnoZo",
    "vvZ4IcEtiZc",
    "f9O3YtZ2VfI",
    "c7UH_rxdZv4",
];

/// The fold of a video, if it is in one.
pub fn fold_of(video: &str) -> Option<SplitName> {
    [
        (SplitName::Train, &TRAIN[..]),
        (SplitName::Valid, &VALID[..]),
        (SplitName::Test, &TEST[..]),
    ]
    .into_iter()
    .find(|(_, videos)| videos.contains(&video))
    .map(|(split, _)| split)
}

/// The videos of a fold.
pub fn videos(split: SplitName) -> &'static [&'static str] {
    match split {
        SplitName::Train => &TRAIN,
        SplitName::Valid => &VALID,
        SplitName::Test => &TEST,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_are_disjoint_and_cover_the_93_videos() {
        let mut all: Vec<&str> = TRAIN.iter().chain(&VALID).chain(&TEST).copied().collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 93);
        assert_eq!(fold_of("WKA5OygbEKI"), Some(SplitName::Valid));
        assert_eq!(fold_of("not-a-video"), None);
    }
}
