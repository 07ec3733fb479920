//! The compact binary window format `SWW1`: one window of samples per payload, decoded into a `Sample` and encoded for publishing (sans-I/O).
//!
//! Layout, all little-endian, 32-byte header then the samples:
//!
//! | offset | size | field                                                          |
//! |-------:|-----:|----------------------------------------------------------------|
//! |      0 |    4 | magic `b"SWW1"`                                                |
//! |      4 |    1 | version, `1`                                                   |
//! |      5 |    1 | sample type: `0` = f32, `1` = i16 scaled by `scale`            |
//! |      6 |    2 | reserved, `0`                                                  |
//! |      8 |    8 | i64 start time, microseconds since the Unix epoch (UTC)        |
//! |     16 |    8 | f64 `sample_rate_hz`, finite and positive                      |
//! |     24 |    4 | f32 `scale`: an i16 sample `s` is the value `s as f32 * scale`; ignored for f32 (write 1.0) |
//! |     28 |    4 | u32 sample count `n`, 1 to 2^20                                |
//! |     32 | 4n or 2n | the samples, f32 or i16                                    |
//!
//! The payload must be exactly `32 + n * size` bytes. A short or long payload, a bad magic,
//! version, sample type or reserved field, an empty window or a non-positive rate is
//! `Malformed`; `n` above 2^20 is `Oversized`; a NaN or infinite rate, scale or sample is
//! `NonFinite`. Compared with JSON, a 2048-sample f32 window is 8 KiB instead of ~20 KiB, and
//! i16 halves that again for sensors whose ADC is 16 bits anyway.

use crate::json::{DecodeError, MAX_ABS_EPOCH_US, MAX_WINDOW_SAMPLES, malformed};
use snn_engine::{AssetId, ChannelId, Reading, Sample, Timestamp};

/// The four bytes every binary window starts with.
pub const MAGIC: [u8; 4] = *b"SWW1";
/// The format version this code reads and writes.
pub const VERSION: u8 = 1;
/// Bytes before the first sample.
pub const HEADER_BYTES: usize = 32;

/// Samples to encode, with their wire type.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BinarySamples<'a> {
    /// 4-byte floats (sample type 0).
    F32(&'a [f32]),
    /// 2-byte integers (sample type 1); the value of `s` is `s as f32 * scale`.
    I16 {
        /// Engineering units per count.
        scale: f32,
        /// Raw ADC counts.
        samples: &'a [i16],
    },
}

/// Encode one window in the binary format (see the module documentation). The encoder does not
/// validate: a caller may write an empty or non-finite window, which the decoder then refuses.
pub fn encode_binary_window(start: Timestamp, sample_rate_hz: f64, samples: BinarySamples<'_>) -> Vec<u8> {
    let (kind, scale, n, bytes) = match samples {
        BinarySamples::F32(s) => (0u8, 1.0f32, s.len(), 4),
        BinarySamples::I16 { scale, samples } => (1u8, scale, samples.len(), 2),
    };
    let mut out = Vec::with_capacity(HEADER_BYTES + n * bytes);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&[VERSION, kind, 0, 0]);
    out.extend_from_slice(&start.0.to_le_bytes());
    out.extend_from_slice(&sample_rate_hz.to_le_bytes());
    out.extend_from_slice(&scale.to_le_bytes());
    // More than u32::MAX samples cannot be written; saturate so the decoder refuses it as oversized.
    out.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes());
    match samples {
        BinarySamples::F32(s) => s.iter().for_each(|v| out.extend_from_slice(&v.to_le_bytes())),
        BinarySamples::I16 { samples, .. } => samples.iter().for_each(|v| out.extend_from_slice(&v.to_le_bytes())),
    }
    out
}

/// Encode a window sample as f32 binary; `None` for a scalar reading, which the format cannot carry.
pub fn encode_binary(sample: &Sample) -> Option<Vec<u8>> {
    match &sample.reading {
        Reading::Window { sample_rate_hz, samples } => {
            Some(encode_binary_window(sample.t, *sample_rate_hz, BinarySamples::F32(samples)))
        }
        Reading::Scalar(_) => None,
    }
}

fn array<const N: usize>(payload: &[u8], at: usize) -> [u8; N] {
    payload[at..at + N].try_into().expect("slice length equals N")
}

/// Decode one binary window published on a channel's topic into a single window sample.
pub fn decode_binary(asset: &AssetId, channel: &ChannelId, payload: &[u8]) -> Result<Vec<Sample>, DecodeError> {
    if payload.len() < HEADER_BYTES {
        return Err(malformed(format!(
            "binary window of {} bytes is shorter than its {HEADER_BYTES}-byte header",
            payload.len()
        )));
    }
    if payload[0..4] != MAGIC {
        return Err(malformed(format!("binary window has magic {:?}, expected \"SWW1\"", &payload[0..4])));
    }
    if payload[4] != VERSION {
        return Err(malformed(format!("binary window version {} is not supported, expected {VERSION}", payload[4])));
    }
    let sample_bytes = match payload[5] {
        0 => 4,
        1 => 2,
        other => return Err(malformed(format!("binary window sample type {other} is unknown (0 = f32, 1 = i16)"))),
    };
    if payload[6..8] != [0, 0] {
        return Err(malformed("binary window reserved bytes are not zero"));
    }
    let start = i64::from_le_bytes(array(payload, 8));
    if start.unsigned_abs() > MAX_ABS_EPOCH_US {
        return Err(malformed(format!("binary window start time {start} µs is out of range")));
    }
    let rate = f64::from_le_bytes(array(payload, 16));
    if !rate.is_finite() {
        return Err(DecodeError::NonFinite("sample_rate_hz".into()));
    }
    if rate <= 0.0 {
        return Err(malformed(format!("binary window `sample_rate_hz` must be positive, got {rate}")));
    }
    let scale = f32::from_le_bytes(array(payload, 24));
    if sample_bytes == 2 && !scale.is_finite() {
        return Err(DecodeError::NonFinite("scale".into()));
    }
    let n = u32::from_le_bytes(array(payload, 28)) as usize;
    if n > MAX_WINDOW_SAMPLES {
        return Err(DecodeError::Oversized(format!("{n} samples in one window, at most {MAX_WINDOW_SAMPLES}")));
    }
    if n == 0 {
        return Err(malformed("empty window"));
    }
    let body = &payload[HEADER_BYTES..];
    if body.len() != n * sample_bytes {
        return Err(malformed(format!(
            "binary window declares {n} samples ({} bytes) but carries {} bytes",
            n * sample_bytes,
            body.len()
        )));
    }
    let samples: Vec<f32> = if sample_bytes == 4 {
        body.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().expect("chunk of 4"))).collect()
    } else {
        body.chunks_exact(2).map(|c| f32::from(i16::from_le_bytes(c.try_into().expect("chunk of 2"))) * scale).collect()
    };
    // i16 * a large finite scale can still overflow f32 to infinity: checked after scaling.
    if let Some(i) = samples.iter().position(|v| !v.is_finite()) {
        return Err(DecodeError::NonFinite(format!("samples[{i}]")));
    }
    Ok(vec![Sample {
        asset: asset.clone(),
        channel: channel.clone(),
        t: Timestamp(start),
        reading: Reading::Window { sample_rate_hz: rate, samples },
    }])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::RejectReason;

    fn decode(payload: &[u8]) -> Result<Vec<Sample>, DecodeError> {
        decode_binary(&AssetId::from("pump-1"), &ChannelId::from("vib"), payload)
    }

    fn window(payload: &[u8]) -> (Timestamp, f64, Vec<f32>) {
        match decode(payload).unwrap().pop().unwrap() {
            Sample { t, reading: Reading::Window { sample_rate_hz, samples }, .. } => (t, sample_rate_hz, samples),
            other => panic!("expected a window, got {other:?}"),
        }
    }

    #[test]
    fn header_layout_is_as_documented() {
        let bytes = encode_binary_window(Timestamp(0x0102), 25_600.0, BinarySamples::F32(&[1.5]));
        assert_eq!(bytes.len(), HEADER_BYTES + 4);
        assert_eq!(&bytes[0..8], b"SWW1\x01\x00\x00\x00");
        assert_eq!(&bytes[8..16], &[0x02, 0x01, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&bytes[16..24], &25_600f64.to_le_bytes());
        assert_eq!(&bytes[24..28], &1f32.to_le_bytes());
        assert_eq!(&bytes[28..32], &[1, 0, 0, 0]);
        assert_eq!(&bytes[32..], &1.5f32.to_le_bytes());
    }

    #[test]
    fn f32_and_i16_windows_round_trip() {
        let samples = [0.1, -3.4e38, 1.17e-38, 0.0, 123.456];
        let t = Timestamp(1_700_000_000_123_457);
        assert_eq!(
            window(&encode_binary_window(t, 25_600.0, BinarySamples::F32(&samples))),
            (t, 25_600.0, samples.to_vec())
        );
        let raw = [i16::MIN, -1, 0, 1, i16::MAX];
        let bytes = encode_binary_window(Timestamp(-5), 1000.0, BinarySamples::I16 { scale: 0.5, samples: &raw });
        assert_eq!(bytes.len(), HEADER_BYTES + 10);
        assert_eq!(window(&bytes), (Timestamp(-5), 1000.0, vec![-16384.0, -0.5, 0.0, 0.5, 16383.5]));
        let s = Sample {
            asset: "pump-1".into(),
            channel: "vib".into(),
            t,
            reading: Reading::Window { sample_rate_hz: 10.0, samples: vec![1.0, 2.0] },
        };
        assert_eq!(decode(&encode_binary(&s).unwrap()).unwrap(), vec![s.clone()]);
        assert_eq!(encode_binary(&Sample { reading: Reading::Scalar(1.0), ..s }), None);
    }

    #[test]
    fn truncated_or_inconsistent_input_is_malformed() {
        let good = encode_binary_window(Timestamp(0), 100.0, BinarySamples::F32(&[1.0, 2.0]));
        for len in 0..good.len() {
            assert_eq!(decode(&good[..len]).unwrap_err().reason(), RejectReason::Malformed, "{len} bytes");
        }
        let mut long = good.clone();
        long.push(0);
        let patched = |at: usize, bytes: &[u8]| {
            let mut b = good.clone();
            b[at..at + bytes.len()].copy_from_slice(bytes);
            b
        };
        for bad in [
            long,
            patched(0, b"SWW2"),
            patched(4, &[2]),
            patched(5, &[7]),
            patched(6, &[1]),
            patched(5, &[1]), // i16 with an f32-sized body
            patched(8, &i64::MAX.to_le_bytes()),
            patched(16, &0f64.to_le_bytes()),
            patched(16, &(-1f64).to_le_bytes()),
            patched(28, &0u32.to_le_bytes()),
            patched(28, &3u32.to_le_bytes()),
        ] {
            assert_eq!(decode(&bad).unwrap_err().reason(), RejectReason::Malformed, "{bad:?}");
        }
        let empty = encode_binary_window(Timestamp(0), 100.0, BinarySamples::F32(&[]));
        assert!(decode(&empty).unwrap_err().to_string().contains("empty window"));
    }

    #[test]
    fn oversized_and_non_finite_are_refused() {
        let mut header = encode_binary_window(Timestamp(0), 100.0, BinarySamples::F32(&[]));
        header[28..32].copy_from_slice(&(MAX_WINDOW_SAMPLES as u32 + 1).to_le_bytes());
        assert_eq!(decode(&header).unwrap_err().reason(), RejectReason::Oversized);
        let nan = encode_binary_window(Timestamp(0), 100.0, BinarySamples::F32(&[1.0, f32::NAN]));
        assert_eq!(decode(&nan).unwrap_err(), DecodeError::NonFinite("samples[1]".into()));
        let rate = encode_binary_window(Timestamp(0), f64::INFINITY, BinarySamples::F32(&[1.0]));
        assert_eq!(decode(&rate).unwrap_err().reason(), RejectReason::NonFinite);
        let scale = encode_binary_window(Timestamp(0), 1.0, BinarySamples::I16 { scale: f32::NAN, samples: &[1] });
        assert_eq!(decode(&scale).unwrap_err().reason(), RejectReason::NonFinite);
        let overflow = encode_binary_window(Timestamp(0), 1.0, BinarySamples::I16 { scale: 3e38, samples: &[2] });
        assert_eq!(decode(&overflow).unwrap_err().reason(), RejectReason::NonFinite);
        // The f32 scale field is ignored for f32 samples.
        let mut ignored = encode_binary_window(Timestamp(0), 1.0, BinarySamples::F32(&[1.0]));
        ignored[24..28].copy_from_slice(&f32::NAN.to_le_bytes());
        assert_eq!(window(&ignored).2, vec![1.0]);
    }
}
