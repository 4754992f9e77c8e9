"""Writes the librosa reference fixture for mosaic's log-mel audio feature extractor.

Reads the four FSDD recordings in `crates/mosaic-data/tests/fixtures/fsdd/` (8 kHz mono 16-bit
PCM) and computes, with librosa (not a reimplementation), for each one:

- `x = int16 / 32768.0` as float64, zero-padded at the end to 256 samples if shorter;
- the power mel spectrogram `librosa.feature.melspectrogram(y=x, sr=8000, n_fft=256,
  hop_length=80, win_length=256, window='hann', center=False, power=2.0, n_mels=24, fmin=0,
  fmax=4000, htk=True, norm=None)`, shape [24, T], T = 1 + (len - 256) // 80, in float64;
- `log_mel = ln(mel + 1e-6)`;
- `pooled`: 16 segments over the T frames, segment k covering frames
  [(k*T)//16, max(start+1, ((k+1)*T)//16)), the mean of log_mel over each segment's frames,
  laid out segment-major: pooled[k*24 + m] (384 values).

It writes `logmel.json` next to the WAV files: the spec line, the 24 x 129 mel filter bank
(`librosa.filters.mel`, htk, no norm, float64) and per recording the sample and frame counts,
`log_mel` frame-major ([T][24]) and `pooled`.

Needs librosa, numpy and scipy. Run from the repository root:

    python3 scripts/make_logmel_fixture.py
"""

import json
import os

import librosa
import numpy as np
from scipy.io import wavfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FSDD = os.path.join(ROOT, "crates", "mosaic-data", "tests", "fixtures", "fsdd")
FILES = ["0_jackson_0.wav", "3_george_2.wav", "6_nicolas_7.wav", "9_theo_16.wav"]

SR = 8000
N_FFT = 256
HOP = 80
N_MELS = 24
FMIN = 0.0
FMAX = 4000.0
EPS = 1e-6
SEGMENTS = 16


def mel_filters():
    return librosa.filters.mel(
        sr=SR, n_fft=N_FFT, n_mels=N_MELS, fmin=FMIN, fmax=FMAX, htk=True, norm=None,
        dtype=np.float64,
    )


def power_mel(x, filters):
    """librosa's mel spectrogram, kept in float64."""
    mel = librosa.feature.melspectrogram(
        y=x, sr=SR, n_fft=N_FFT, hop_length=HOP, win_length=N_FFT, window="hann",
        center=False, power=2.0, n_mels=N_MELS, fmin=FMIN, fmax=FMAX, htk=True, norm=None,
        dtype=np.float64,
    )
    if mel.dtype != np.float64:
        # Fallback: the same product from librosa's float64 STFT and filter bank, checked
        # against melspectrogram's own (lower-precision) result.
        spec = np.abs(librosa.stft(
            x, n_fft=N_FFT, hop_length=HOP, win_length=N_FFT, window="hann", center=False,
            dtype=np.complex128,
        )) ** 2
        ours = filters @ spec
        np.testing.assert_allclose(mel, ours, rtol=1e-5, atol=1e-12)
        mel = ours
    assert mel.dtype == np.float64, mel.dtype
    return mel


def pool(log_mel):
    """Segment means over frames, segment-major: out[k * 24 + m]."""
    t = log_mel.shape[1]
    out = []
    for k in range(SEGMENTS):
        start = (k * t) // SEGMENTS
        end = max(start + 1, ((k + 1) * t) // SEGMENTS)
        out.extend(log_mel[:, start:end].mean(axis=1).tolist())
    return out


def main():
    filters = mel_filters()
    assert filters.shape == (N_MELS, N_FFT // 2 + 1) and filters.dtype == np.float64
    recordings = []
    for name in FILES:
        rate, pcm = wavfile.read(os.path.join(FSDD, name))
        assert rate == SR and pcm.dtype == np.int16 and pcm.ndim == 1, (rate, pcm.dtype, pcm.shape)
        x = pcm.astype(np.float64) / 32768.0
        if len(x) < N_FFT:
            x = np.concatenate([x, np.zeros(N_FFT - len(x))])
        mel = power_mel(x, filters)
        frames = 1 + (len(x) - N_FFT) // HOP
        assert mel.shape == (N_MELS, frames), (mel.shape, frames)
        log_mel = np.log(mel + EPS)
        pooled = pool(log_mel)
        assert len(pooled) == SEGMENTS * N_MELS
        recordings.append({
            "file": name,
            "samples": int(len(pcm)),
            "frames": int(frames),
            "log_mel": log_mel.T.tolist(),
            "pooled": pooled,
        })
        print(f"{name}: samples={len(pcm)} frames={frames}")

    spec = (
        f"x=int16/32768 (float64), zero-padded at end to 256 if shorter; "
        f"mel=librosa.feature.melspectrogram(sr=8000, n_fft=256, hop_length=80, win_length=256, "
        f"window='hann', center=False, power=2.0, n_mels=24, fmin=0, fmax=4000, htk=True, "
        f"norm=None) in float64, [24,T], T=1+(len-256)//80; log_mel=ln(mel+1e-6), stored "
        f"frame-major [T][24]; pooled: 16 segments, start=(k*T)//16, "
        f"end=max(start+1,((k+1)*T)//16), mean over frames, pooled[k*24+m] (384); "
        f"mel_filters=librosa.filters.mel(sr=8000, n_fft=256, n_mels=24, fmin=0, fmax=4000, "
        f"htk=True, norm=None) [24][129]; librosa {librosa.__version__}"
    )
    out = os.path.join(FSDD, "logmel.json")
    with open(out, "w") as f:
        json.dump({
            "spec": spec,
            "mel_filters": filters.tolist(),
            "recordings": recordings,
        }, f)
        f.write("\n")
    print(f"wrote {out} ({os.path.getsize(out)} bytes)")


if __name__ == "__main__":
    main()
