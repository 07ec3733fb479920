//! Fuzz target: a sequence of Sparkplug messages never makes the decoder panic, and rebirths are only requested on rejections.
#![no_main]

use connectors::sparkplug::SparkplugDecoder;
use libfuzzer_sys::fuzz_target;
use snn_engine::Timestamp;

const TOPICS: [&str; 8] = [
    "spBv1.0/g/NBIRTH/e",
    "spBv1.0/g/NDATA/e",
    "spBv1.0/g/NDEATH/e",
    "spBv1.0/g/DBIRTH/e/d",
    "spBv1.0/g/DDATA/e/d",
    "spBv1.0/g/DDEATH/e/d",
    "spBv1.0/g/NCMD/e",
    "spBv1.0/STATE/h",
];

fuzz_target!(|data: &[u8]| {
    // The input is a list of messages: one byte picks the topic, one byte the payload length.
    let mut decoder = SparkplugDecoder::new();
    let mut rest = data;
    let mut now = 0;
    while let [topic, len, tail @ ..] = rest {
        let len = usize::from(*len).min(tail.len());
        let (payload, tail) = tail.split_at(len);
        now += 1_000_000;
        let out = decoder.decode(TOPICS[usize::from(*topic) % TOPICS.len()], payload, Timestamp(now));
        assert!(out.command.is_none() || out.samples.is_err());
        rest = tail;
    }
});
