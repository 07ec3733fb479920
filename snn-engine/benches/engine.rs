//! Engine speed on one core: `cargo bench -p snn-engine --bench engine`.
//!
//! - `scalar_channel`: one scalar reading through [`AssetModel::step`], monitoring phase (elements =
//!   samples).
//! - `vibration_25k6`: one 2048-sample window at 25.6 kHz through `step`; `samples` counts its samples,
//!   `windows` the window itself; `windows_resonate` the same with `band_bank = "resonate"`.
//! - `motor_current_2k`: one second of stator current (2,000 samples at 2 kHz, windows back to back):
//!   `frontend` through the motor-current front-end alone (supply, sidebands, harmonics), `step` through
//!   the whole model; elements = windows.
//! - `layer/<inputs>x<neurons>`: the raw LIF layer with STDP run by the CPU backend for one window, every
//!   neuron recruited; `neuron_updates` counts neurons x time steps, `synaptic_events` input spikes x
//!   fan-out (the engine's own counter).
//!
//! The same workload (`support/workload.rs`) is timed without criterion by `spikewatch bench engine`.

#[path = "support/workload.rs"]
mod workload;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use snn_engine::ChannelKind;
use snn_engine::frontend::BandBank;
use std::hint::black_box;
use workload::{Feed, LayerWorkload, WINDOW_SAMPLES};

/// Steps past warm-up before timing, so alert thresholds and learning gates are in their steady state.
const EXTRA_WARMUP_STEPS: u64 = 200;

fn scalar_channel(c: &mut Criterion) {
    let kind = ChannelKind::Scalar;
    let (mut model, channel, mut feed) =
        (workload::single_channel_model(kind), workload::channel_id(kind), Feed::scalar());
    workload::warm_up(&mut model, &channel, &mut feed, EXTRA_WARMUP_STEPS);
    let mut group = c.benchmark_group("scalar_channel");
    group.throughput(Throughput::Elements(1));
    group.bench_function("samples", |b| {
        b.iter(|| {
            let (t, reading) = feed.next_reading();
            black_box(model.step(&channel, t, reading))
        })
    });
    group.finish();
}

fn vibration_channel(c: &mut Criterion) {
    let kind = ChannelKind::Window;
    let (mut model, channel, mut feed) =
        (workload::single_channel_model(kind), workload::channel_id(kind), Feed::vibration());
    workload::warm_up(&mut model, &channel, &mut feed, EXTRA_WARMUP_STEPS);
    let mut group = c.benchmark_group("vibration_25k6");
    for (name, elements) in [("samples", WINDOW_SAMPLES as u64), ("windows", 1)] {
        group.throughput(Throughput::Elements(elements));
        group.bench_function(name, |b| {
            b.iter(|| {
                let (t, reading) = feed.next_reading();
                black_box(model.step(&channel, t, reading))
            })
        });
    }
    let (mut model, mut feed) = (workload::vibration_model(BandBank::Resonate), Feed::vibration());
    workload::warm_up(&mut model, &channel, &mut feed, EXTRA_WARMUP_STEPS);
    group.throughput(Throughput::Elements(1));
    group.bench_function("windows_resonate", |b| {
        b.iter(|| {
            let (t, reading) = feed.next_reading();
            black_box(model.step(&channel, t, reading))
        })
    });
    group.finish();
}

fn motor_current_channel(c: &mut Criterion) {
    let mut group = c.benchmark_group("motor_current_2k");
    group.throughput(Throughput::Elements(1));
    let (mut frontend, params) = workload::motor_current_frontend();
    let mut feed = Feed::motor_current();
    // A full history first, so the sideband spectrum has its steady-state size.
    workload::run_frontend(&mut frontend, &params, &mut feed, 12);
    group.bench_function("frontend", |b| {
        b.iter(|| black_box(workload::run_frontend(&mut frontend, &params, &mut feed, 1)))
    });
    let kind = ChannelKind::MotorCurrent;
    let (mut model, channel, mut feed) =
        (workload::single_channel_model(kind), workload::channel_id(kind), Feed::motor_current());
    workload::warm_up(&mut model, &channel, &mut feed, EXTRA_WARMUP_STEPS);
    group.bench_function("step", |b| {
        b.iter(|| {
            let (t, reading) = feed.next_reading();
            black_box(model.step(&channel, t, reading))
        })
    });
    group.finish();
}

fn layer(c: &mut Criterion) {
    let mut group = c.benchmark_group("layer");
    for kind in [ChannelKind::Scalar, ChannelKind::Window] {
        let mut work = LayerWorkload::new(kind);
        // The rasters cycle, so one pass over them has fixed counts (spikes in, not out: those depend on
        // the learned state, and are not part of the throughput figures).
        let rasters = work.raster_count() as u64;
        let per_pass = work.clone().run(rasters);
        let (inputs, neurons) = work.shape();
        let shape = format!("{inputs}x{neurons}");
        for (name, elements) in
            [("neuron_updates", per_pass.neuron_updates), ("synaptic_events", per_pass.synaptic_events)]
        {
            group.throughput(Throughput::Elements(elements));
            group.bench_function(BenchmarkId::new(name, &shape), |b| b.iter(|| black_box(work.run(rasters))));
        }
    }
    group.finish();
}

criterion_group!(benches, scalar_channel, vibration_channel, motor_current_channel, layer);
criterion_main!(benches);
