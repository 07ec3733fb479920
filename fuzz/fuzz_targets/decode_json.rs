//! Fuzz target: `decode_json` (built-in and a mapped layout) never panics, and what it accepts re-encodes to an equal decode.
#![no_main]

use connectors::{JsonLayout, TimeFormat, decode_json, decode_json_with, encode_json};
use libfuzzer_sys::fuzz_target;
use snn_engine::{AssetId, ChannelId};

fuzz_target!(|data: &[u8]| {
    let (asset, channel) = (AssetId::from("a"), ChannelId::from("c"));
    if let Ok(samples) = decode_json(&asset, &channel, data) {
        for s in samples {
            // encode_json's fractional milliseconds are exact only while |t| < 2^42 ms.
            if s.t.0.unsigned_abs() < (1u64 << 42) * 1000 {
                assert_eq!(decode_json(&asset, &channel, &encode_json(&s)).unwrap(), vec![s]);
            }
        }
    }
    let layout = JsonLayout {
        time_pointer: "/ts".into(),
        value_pointer: "/d/0/v".into(),
        time_format: TimeFormat::EpochS,
        ..JsonLayout::default()
    };
    let _ = decode_json_with(&layout, &asset, &channel, data);
});
