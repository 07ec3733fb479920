//! Fuzz target: `decode_binary` never panics, and what it accepts re-encodes (as f32) to an equal decode.
#![no_main]

use connectors::{decode_binary, encode_binary};
use libfuzzer_sys::fuzz_target;
use snn_engine::{AssetId, ChannelId};

fuzz_target!(|data: &[u8]| {
    let (asset, channel) = (AssetId::from("a"), ChannelId::from("c"));
    if let Ok(samples) = decode_binary(&asset, &channel, data) {
        let bytes = encode_binary(&samples[0]).expect("a binary window decodes to a window");
        assert_eq!(decode_binary(&asset, &channel, &bytes).unwrap(), samples);
    }
});
