"""Writes small CMU-MultimodalSDK computational sequences (.csd, HDF5) for mosaic's tests.

The layout is the SDK's (`mmsdk.mmdatasdk.computational_sequence`): one top-level group named
after the sequence, holding `data/<video id>/features` `[frames, width]` and
`data/<video id>/intervals` `[frames, 2]` (start and end in seconds), and `metadata/<key>`
(one variable-length string each, JSON). Four files named as in CMU-MOSI's release, with small
widths:

- `CMU_MOSI_TimestampedWordVectors.csd` ("glove_vectors"): one row per word, 16-wide word vectors (zeros for `sp`);
- `CMU_MOSI_COVAREP.csd` ("COVAREP"): 100 Hz frames, 8 features, with NaN and -inf in column 2
  and +inf in column 5 as in the real COVAREP files; float32, gzip-compressed, chunked;
- `CMU_MOSI_Visual_Facet_42.csd` ("FACET_4.2"): 30 Hz frames, 6 float32 features;
- `CMU_MOSI_Opinion_Labels.csd` ("Opinion Segment Labels"): one row per opinion segment, `[1]` sentiment.

Videos are taken from the SDK's standard folds (4 train, 1 valid, 1 test). Values follow a
fixed seed, so the files are reproducible:

    python scripts/make_csd_fixture.py crates/mosaic-data/tests/fixtures/mosi

`--broken DIR` also writes the malformed files the loader's error tests read, among them
`huge_declared.csd`: a few KB that declare a 2^28 x 64 float32 dataset (64 GiB) never written,
which a reader must refuse before allocating it.
"""

import argparse
import json
import os

import h5py
import numpy as np

VIDEOS = {"2iD-tVS8NPw": "train", "8d-gEyoeBzc": "train", "Qr1Ca94K55A": "train",
          "Ci-AH39fi3Y": "train", "WKA5OygbEKI": "valid", "tmZoasNr4rU": "test"}
WORD_WIDTH, AUDIO_WIDTH, VISUAL_WIDTH = 16, 8, 6


def write_csd(path, root, data, compress=False):
    with h5py.File(path, "w") as f:
        sequence = f.create_group(root)
        group = sequence.create_group("data")
        options = {"compression": "gzip", "compression_opts": 9} if compress else {}
        for video, (features, intervals) in data.items():
            g = group.create_group(video)
            g.create_dataset("features", data=features, **options)
            g.create_dataset("intervals", data=intervals, **options)
        meta = sequence.create_group("metadata")
        for key, value in {"root name": root, "computational sequence version": "1.0",
                           "dimension names": None}.items():
            d = meta.create_dataset(key, (1,), dtype=h5py.special_dtype(vlen=str))
            d[0] = json.dumps(value)


def frames(rng, duration, rate, width):
    n = int(duration * rate)
    starts = np.arange(n) / rate
    return rng.normal(size=(n, width)), np.stack([starts, starts + 1.0 / rate], axis=1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--broken")
    args = parser.parse_args()
    rng = np.random.default_rng(777)
    os.makedirs(args.out, exist_ok=True)
    words, covarep, facet, labels = {}, {}, {}, {}
    for video in VIDEOS:
        t, word_rows, word_intervals, label_rows, label_intervals = 0.0, [], [], [], []
        for _segment in range(int(rng.integers(3, 6))):
            start = t
            for _ in range(int(rng.integers(3, 8))):
                length = float(rng.uniform(0.2, 0.6))
                silence = rng.uniform() < 0.15
                word_rows.append(np.zeros(WORD_WIDTH) if silence else rng.normal(size=WORD_WIDTH))
                word_intervals.append([t, t + length])
                t += length
            label_rows.append([float(np.clip(rng.normal() * 1.5, -3, 3))])
            label_intervals.append([start, t])
            t += 0.3  # a pause between segments
        words[video] = (np.array(word_rows), np.array(word_intervals))
        labels[video] = (np.array(label_rows), np.array(label_intervals))
        audio, audio_intervals = frames(rng, t, 100, AUDIO_WIDTH)
        audio[::7, 2] = np.nan
        audio[3::11, 2] = -np.inf
        audio[5::13, 5] = np.inf
        covarep[video] = (audio.astype(np.float32), audio_intervals)
        visual, visual_intervals = frames(rng, t, 30, VISUAL_WIDTH)
        facet[video] = (visual.astype(np.float32), visual_intervals)
    write_csd(os.path.join(args.out, "CMU_MOSI_TimestampedWordVectors.csd"), "glove_vectors", words)
    write_csd(os.path.join(args.out, "CMU_MOSI_COVAREP.csd"), "COVAREP", covarep, compress=True)
    write_csd(os.path.join(args.out, "CMU_MOSI_Visual_Facet_42.csd"), "FACET_4.2", facet)
    write_csd(os.path.join(args.out, "CMU_MOSI_Opinion_Labels.csd"), "Opinion Segment Labels", labels)

    if args.broken:
        os.makedirs(args.broken, exist_ok=True)
        # An HDF5 file that is not a computational sequence (no data group).
        with h5py.File(os.path.join(args.broken, "not_a_sequence.csd"), "w") as f:
            f.create_group("something").create_dataset("values", data=np.zeros(3))
        # Labels for videos that no feature file has.
        other = {"zzzzzzzzzzz": labels[next(iter(VIDEOS))]}
        write_csd(os.path.join(args.broken, "labels_other_videos.csd"), "Opinion Segment Labels", other)
        # COVAREP without one of the labelled training videos.
        partial = {k: v for k, v in covarep.items() if k != "8d-gEyoeBzc"}
        write_csd(os.path.join(args.broken, "covarep_missing_video.csd"), "COVAREP", partial)
        with open(os.path.join(args.broken, "not_hdf5.csd"), "wb") as f:
            f.write(b"this is not an HDF5 file\n")
        write_huge_declared(os.path.join(args.broken, "huge_declared.csd"))


def write_huge_declared(path):
    """A computational sequence whose one video declares 2^28 frames of 64 float32 features
    (chunked, no chunk written: the file stays a few KB)."""
    with h5py.File(path, "w") as f:
        g = f.create_group("COVAREP").create_group("data").create_group("huge")
        g.create_dataset("features", shape=(1 << 28, 64), dtype="f4", chunks=(1024, 64))
        g.create_dataset("intervals", shape=(1 << 28, 2), dtype="f8", chunks=(1024, 2))


if __name__ == "__main__":
    main()
