//! WAV recordings into window `Sample`s: a small RIFF reader (sans-I/O over bytes) for 16-bit PCM and
//! 32-bit float, mono or multi-channel, cut into windows at the file's sample rate.
//!
//! The format: Microsoft's RIFF/WAVE ("Multimedia Programming Interface and Data Specifications 1.0",
//! 1991) with the `WAVE_FORMAT_EXTENSIBLE` header of the 2001 "Multiple Channel Audio Data and WAVE Files"
//! note, whose sub-format GUID starts with the plain format code.

use super::{Replay, ReplayError};
use snn_engine::{AssetId, ChannelId, Reading, Sample, Timestamp};
use std::path::Path;
use thiserror::Error;

const WAVE_FORMAT_PCM: u16 = 0x0001;
const WAVE_FORMAT_IEEE_FLOAT: u16 = 0x0003;
const WAVE_FORMAT_EXTENSIBLE: u16 = 0xFFFE;

/// Why bytes are not a WAV file this reader accepts.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum WavError {
    /// Not a RIFF/WAVE file, or a header cut short.
    #[error("malformed wav: {0}")]
    Malformed(&'static str),
    /// A valid WAV file in an encoding other than 16-bit PCM or 32-bit float.
    #[error("unsupported wav encoding: {found} (expected 16-bit pcm or 32-bit float)")]
    Unsupported { found: String },
}

/// Decoded audio: every channel's samples, de-interleaved, 16-bit PCM scaled to [-1, 1).
#[derive(Debug, Clone, PartialEq)]
pub struct Wav {
    pub sample_rate_hz: u32,
    /// `channels[c][i]`: sample `i` of WAV channel `c`.
    pub channels: Vec<Vec<f32>>,
}

/// How to cut a WAV recording into readings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WavOptions {
    /// Samples per window (per channel).
    pub window_len: usize,
    /// The time of the first sample.
    pub start: Timestamp,
}

impl Default for WavOptions {
    /// 2048-sample windows starting at the Unix epoch, so a replay is the same on every run.
    fn default() -> Self {
        WavOptions { window_len: 2048, start: Timestamp(0) }
    }
}

/// Reads a WAV file into one `Window` sample per channel (`ch0`, `ch1`, ...) and window of
/// `options.window_len` samples, in time order; see [`parse_wav`] and [`windows`].
pub fn read_wav(path: &Path, asset: &AssetId, options: &WavOptions) -> Result<Replay, ReplayError> {
    let bytes = std::fs::read(path).map_err(|source| ReplayError::Io { path: path.to_owned(), source })?;
    let wav =
        parse_wav(&bytes).map_err(|source| ReplayError::Wav { source_name: path.display().to_string(), source })?;
    Ok(windows(&wav, asset, options))
}

/// Decodes a RIFF/WAVE file: 16-bit PCM or 32-bit IEEE float, any channel count, plain or
/// `WAVE_FORMAT_EXTENSIBLE` header. Other chunks are skipped; a `data` chunk longer than the file (as
/// streaming writers leave it) is read up to the last whole frame.
pub fn parse_wav(bytes: &[u8]) -> Result<Wav, WavError> {
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(WavError::Malformed("no RIFF/WAVE header"));
    }
    let mut format = None;
    let mut rest = &bytes[12..];
    while rest.len() >= 8 {
        let (id, size) = (&rest[0..4], u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]) as usize);
        let body = &rest[8..];
        let chunk = &body[..size.min(body.len())];
        match id {
            b"fmt " => format = Some(Format::parse(chunk)?),
            b"data" => {
                let format = format.ok_or(WavError::Malformed("data chunk before fmt chunk"))?;
                return format.decode(chunk);
            }
            _ => {}
        }
        // Chunks are padded to an even length.
        let next = size.saturating_add(size % 2);
        rest = body.get(next..).unwrap_or_default();
    }
    Err(WavError::Malformed("no data chunk"))
}

/// The parts of a `fmt ` chunk the reader needs.
#[derive(Debug, Clone, Copy)]
struct Format {
    code: u16,
    channels: u16,
    sample_rate_hz: u32,
    bits: u16,
}

impl Format {
    fn parse(chunk: &[u8]) -> Result<Format, WavError> {
        if chunk.len() < 16 {
            return Err(WavError::Malformed("fmt chunk shorter than 16 bytes"));
        }
        let u16_at = |i: usize| u16::from_le_bytes([chunk[i], chunk[i + 1]]);
        let mut code = u16_at(0);
        if code == WAVE_FORMAT_EXTENSIBLE {
            // cbSize, valid bits, channel mask, then the sub-format GUID, whose first two bytes are the code.
            if chunk.len() < 40 {
                return Err(WavError::Malformed("extensible fmt chunk shorter than 40 bytes"));
            }
            code = u16_at(24);
        }
        let format = Format {
            code,
            channels: u16_at(2),
            sample_rate_hz: u32::from_le_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]),
            bits: u16_at(14),
        };
        match (format.code, format.bits) {
            (WAVE_FORMAT_PCM, 16) | (WAVE_FORMAT_IEEE_FLOAT, 32) => {}
            (code, bits) => {
                let name = match code {
                    WAVE_FORMAT_PCM => "pcm".to_owned(),
                    0x0002 => "adpcm".to_owned(),
                    WAVE_FORMAT_IEEE_FLOAT => "float".to_owned(),
                    0x0006 => "a-law".to_owned(),
                    0x0007 => "mu-law".to_owned(),
                    other => format!("format 0x{other:04x}"),
                };
                return Err(WavError::Unsupported { found: format!("{bits}-bit {name}") });
            }
        }
        if format.channels == 0 {
            return Err(WavError::Malformed("zero channels"));
        }
        if format.sample_rate_hz == 0 {
            return Err(WavError::Malformed("zero sample rate"));
        }
        Ok(format)
    }

    fn decode(self, data: &[u8]) -> Result<Wav, WavError> {
        let width = usize::from(self.bits / 8);
        let channels = usize::from(self.channels);
        let frames = data.len() / (width * channels);
        let mut out = vec![Vec::with_capacity(frames); channels];
        for (i, sample) in data[..frames * width * channels].chunks_exact(width).enumerate() {
            let value = if self.code == WAVE_FORMAT_PCM {
                f32::from(i16::from_le_bytes([sample[0], sample[1]])) / 32768.0
            } else {
                f32::from_le_bytes([sample[0], sample[1], sample[2], sample[3]])
            };
            out[i % channels].push(value);
        }
        Ok(Wav { sample_rate_hz: self.sample_rate_hz, channels: out })
    }
}

/// Cuts audio into `Window` samples of `options.window_len` samples: window `k` of every channel (`ch0`,
/// `ch1`, ...) starts at `start + k * window_len / sample_rate_hz` (floored to the microsecond). Samples
/// after the last full window are counted in [`Replay::trailing_samples`], not replayed. A
/// `window_len` of 0 is taken as 1.
pub fn windows(wav: &Wav, asset: &AssetId, options: &WavOptions) -> Replay {
    let len = options.window_len.max(1);
    let frames = wav.channels.first().map_or(0, Vec::len);
    let channels: Vec<ChannelId> = (0..wav.channels.len()).map(|c| ChannelId::from(format!("ch{c}"))).collect();
    let mut samples = Vec::with_capacity(frames / len * channels.len());
    for k in 0..frames / len {
        // i128: k * len * 1e6 overflows i64 only for absurd files, but costs nothing to rule out.
        let offset_us = (k as i128 * len as i128 * 1_000_000 / i128::from(wav.sample_rate_hz)) as i64;
        let t = Timestamp(options.start.0.saturating_add(offset_us));
        for (channel, audio) in channels.iter().zip(&wav.channels) {
            samples.push(Sample {
                asset: asset.clone(),
                channel: channel.clone(),
                t,
                reading: Reading::Window {
                    sample_rate_hz: f64::from(wav.sample_rate_hz),
                    samples: audio[k * len..(k + 1) * len].to_vec(),
                },
            });
        }
    }
    Replay { samples, channels, bad_rows: 0, ignored_columns: Vec::new(), trailing_samples: frames % len }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal WAV writer for the tests: `format` code, `bits` per sample, interleaved `data` bytes.
    fn wav_bytes(format: u16, channels: u16, rate: u32, bits: u16, data: &[u8], extensible: bool) -> Vec<u8> {
        let block = channels * bits / 8;
        let mut fmt = Vec::new();
        fmt.extend((if extensible { WAVE_FORMAT_EXTENSIBLE } else { format }).to_le_bytes());
        fmt.extend(channels.to_le_bytes());
        fmt.extend(rate.to_le_bytes());
        fmt.extend((rate * u32::from(block)).to_le_bytes());
        fmt.extend(block.to_le_bytes());
        fmt.extend(bits.to_le_bytes());
        if extensible {
            fmt.extend(22u16.to_le_bytes());
            fmt.extend(bits.to_le_bytes());
            fmt.extend(0u32.to_le_bytes());
            fmt.extend(format.to_le_bytes());
            fmt.extend([0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71]);
        }
        let mut out = b"RIFF".to_vec();
        out.extend((4 + 8 + fmt.len() as u32 + 8 + 3 + 8 + data.len() as u32).to_le_bytes());
        out.extend(b"WAVE");
        out.extend(b"fmt ");
        out.extend((fmt.len() as u32).to_le_bytes());
        out.extend(fmt);
        // An odd-sized chunk the reader must skip, with its pad byte.
        out.extend(b"LIST");
        out.extend(3u32.to_le_bytes());
        out.extend([1, 2, 3, 0]);
        out.extend(b"data");
        out.extend((data.len() as u32).to_le_bytes());
        out.extend(data);
        out
    }

    /// A 1 kHz sine at 8 kHz, amplitude 0.5, with `channels` channels (channel c at phase c * 90°).
    fn sine(channels: usize, frames: usize) -> Vec<Vec<f32>> {
        (0..channels)
            .map(|c| {
                (0..frames)
                    .map(|i| {
                        let phase = 2.0 * std::f64::consts::PI * 1000.0 * i as f64 / 8000.0;
                        (0.5 * (phase + c as f64 * std::f64::consts::FRAC_PI_2).sin()) as f32
                    })
                    .collect()
            })
            .collect()
    }

    fn interleave(channels: &[Vec<f32>], encode: impl Fn(f32) -> Vec<u8>) -> Vec<u8> {
        (0..channels[0].len()).flat_map(|i| channels.iter().flat_map(|c| encode(c[i])).collect::<Vec<_>>()).collect()
    }

    fn temp_file(name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("spikewatch-wav-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    #[test]
    fn a_16_bit_stereo_sine_reads_back_and_is_cut_into_windows() {
        let wave = sine(2, 1000);
        let pcm = interleave(&wave, |v| ((v * 32768.0).round() as i16).to_le_bytes().to_vec());
        let path = temp_file("sine16.wav", &wav_bytes(WAVE_FORMAT_PCM, 2, 8000, 16, &pcm, false));
        let wav = parse_wav(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(wav.sample_rate_hz, 8000);
        assert_eq!(wav.channels.len(), 2);
        assert_eq!(wav.channels[0].len(), 1000);
        for (got, want) in wav.channels.iter().flatten().zip(wave.iter().flatten()) {
            assert!((got - want).abs() <= 1.0 / 32768.0, "{got} vs {want}");
        }
        // Sample 2 of a 1 kHz sine at 8 kHz is the peak: 0.5 on ch0 and (90° later) 0 on ch1.
        assert_eq!(wav.channels[0][2], 0.5);
        assert!(wav.channels[1][2].abs() < 1e-4);

        let options = WavOptions { window_len: 256, start: Timestamp::from_millis(1_000) };
        let replay = read_wav(&path, &AssetId::from("fan"), &options).unwrap();
        assert_eq!(replay.channels, vec![ChannelId::from("ch0"), ChannelId::from("ch1")]);
        assert_eq!(replay.samples.len(), 3 * 2, "three full windows per channel");
        assert_eq!(replay.trailing_samples, 1000 - 3 * 256);
        // Window 1 starts 256 / 8000 s = 32 ms after the start.
        let s = &replay.samples[2];
        assert_eq!((s.asset.as_str(), s.channel.as_str(), s.t), ("fan", "ch0", Timestamp::from_millis(1_032)));
        let Reading::Window { sample_rate_hz, samples } = &s.reading else { panic!("a window") };
        assert_eq!(*sample_rate_hz, 8000.0);
        assert_eq!(samples.as_slice(), &wav.channels[0][256..512]);
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }

    #[test]
    fn a_float_mono_sine_reads_back_exactly_also_with_an_extensible_header() {
        let wave = sine(1, 300);
        let data = interleave(&wave, |v| v.to_le_bytes().to_vec());
        for extensible in [false, true] {
            let path = temp_file("sinef32.wav", &wav_bytes(WAVE_FORMAT_IEEE_FLOAT, 1, 8000, 32, &data, extensible));
            let wav = parse_wav(&std::fs::read(&path).unwrap()).unwrap();
            assert_eq!((wav.sample_rate_hz, wav.channels.len()), (8000, 1));
            assert_eq!(wav.channels, wave, "extensible: {extensible}");
            let replay = windows(&wav, &AssetId::from("m"), &WavOptions::default());
            assert!(replay.samples.is_empty());
            assert_eq!(replay.trailing_samples, 300);
            std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
        }
    }

    #[test]
    fn other_encodings_and_broken_files_are_refused_by_name() {
        let err = parse_wav(&wav_bytes(WAVE_FORMAT_PCM, 1, 8000, 24, &[0; 6], false)).unwrap_err();
        assert_eq!(err.to_string(), "unsupported wav encoding: 24-bit pcm (expected 16-bit pcm or 32-bit float)");
        let err = parse_wav(&wav_bytes(WAVE_FORMAT_IEEE_FLOAT, 1, 8000, 64, &[0; 8], true)).unwrap_err();
        assert_eq!(err, WavError::Unsupported { found: "64-bit float".into() });
        let err = parse_wav(&wav_bytes(0x0007, 1, 8000, 8, &[0; 8], false)).unwrap_err();
        assert_eq!(err, WavError::Unsupported { found: "8-bit mu-law".into() });
        assert_eq!(parse_wav(b"RIFF\0\0\0\0AVI LIST").unwrap_err(), WavError::Malformed("no RIFF/WAVE header"));
        let mut no_data = wav_bytes(WAVE_FORMAT_PCM, 1, 8000, 16, &[], false);
        no_data.truncate(no_data.len() - 8);
        assert_eq!(parse_wav(&no_data).unwrap_err(), WavError::Malformed("no data chunk"));
        // A data chunk that claims more than the file holds: read up to the last whole frame.
        let mut cut = wav_bytes(WAVE_FORMAT_PCM, 2, 8000, 16, &[1, 0, 2, 0, 3, 0, 4, 0], false);
        cut.truncate(cut.len() - 3);
        let wav = parse_wav(&cut).unwrap();
        assert_eq!(wav.channels, vec![vec![1.0 / 32768.0], vec![2.0 / 32768.0]]);
        let missing = read_wav(Path::new("/nonexistent/a.wav"), &AssetId::from("m"), &WavOptions::default());
        assert!(missing.unwrap_err().to_string().starts_with("failed to read `/nonexistent/a.wav`"));
    }
}
