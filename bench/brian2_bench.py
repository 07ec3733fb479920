"""Brian2 running a network the size of spikewatch's default layer, timed like `spikewatch bench engine`.

Usage: brian2_bench.py [--targets numpy,cython] [--inputs 22] [--neurons 64] [--steps N]

The network mirrors the layer of spikewatch's default scalar-channel model: `--inputs` Poisson input
lines all-to-all onto `--neurons` LIF neurons with an adaptive threshold, pair-based STDP with exponential
traces on every input synapse, and lateral inhibition between the neurons. One time step of spikewatch's
layer is one `dt` (1 ms) here, with the same time constants in steps (membrane 10, STDP traces 5, threshold
adaptation 2000). Each input line spikes with probability `--input-rate` per time step. `run.sh` passes
the shape and rate that `spikewatch bench engine` reports in its first `note: layer ...` line; the
defaults here are those of the model when this was written (55 inputs = 5 features x 11 lines, 64
neurons, 0.227 spikes per line per step).

Figures, in the units of `spikewatch bench engine`, for each code-generation target (numpy, and cython when
a C compiler is there; the cython run is preceded by an untimed short run that compiles and caches the
extensions, so compilation is not timed):
- neuron updates/s = neurons x time steps / wall seconds of `Network.run`;
- synaptic events/s = input spikes x fan-out (neurons) / wall seconds, the engine's own definition.
"""

import argparse
import platform
import sys
import time

import brian2
from brian2 import (
    Network,
    NeuronGroup,
    PoissonGroup,
    SpikeMonitor,
    Synapses,
    defaultclock,
    ms,
    prefs,
    seed,
)


def build(inputs, neurons, input_rate):
    """The network and its input and output spike monitors (counting only, nothing recorded)."""
    defaultclock.dt = 1 * ms
    namespace = {
        "tau_m": 10 * ms,
        "tau_theta": 2000 * ms,
        "tau_pre": 5 * ms,
        "tau_post": 5 * ms,
        "theta_plus": 0.002,
        "a_plus": 0.001,
        "a_minus": 0.0005,
        "w_max": 0.5,
        "inhibition": 0.5,
    }
    source = PoissonGroup(inputs, rates=input_rate / defaultclock.dt)
    layer = NeuronGroup(
        neurons,
        """dv/dt = -v / tau_m : 1
           dtheta/dt = -theta / tau_theta : 1""",
        threshold="v > 1 + theta",
        reset="v = 0\ntheta += theta_plus",
        method="exact",
        namespace=namespace,
    )
    stdp = Synapses(
        source,
        layer,
        """w : 1
           dapre/dt = -apre / tau_pre : 1 (event-driven)
           dapost/dt = -apost / tau_post : 1 (event-driven)""",
        on_pre="""v_post += w
                  apre += 1
                  w = clip(w - a_minus * apost, 0, w_max)""",
        on_post="""apost += 1
                   w = clip(w + a_plus * apre, 0, w_max)""",
        namespace=namespace,
    )
    stdp.connect()
    stdp.w = "0.1 * rand()"
    lateral = Synapses(layer, layer, on_pre="v_post -= inhibition", namespace=namespace)
    lateral.connect(condition="i != j")
    spikes_in = SpikeMonitor(source, record=False)
    spikes_out = SpikeMonitor(layer, record=False)
    return Network(source, layer, stdp, lateral, spikes_in, spikes_out), spikes_in, spikes_out


def time_target(target, args):
    """Runs the network `args.steps` time steps with code-generation `target`; returns a result line."""
    prefs.codegen.target = target
    seed(7)
    net, spikes_in, spikes_out = build(args.inputs, args.neurons, args.input_rate)
    # Untimed: code generation (and, for cython, compiling or loading the cached extensions).
    net.run(100 * defaultclock.dt)
    in0, out0 = spikes_in.num_spikes, spikes_out.num_spikes
    start = time.perf_counter()
    net.run(args.steps * defaultclock.dt)
    seconds = time.perf_counter() - start
    input_spikes = spikes_in.num_spikes - in0
    output_spikes = spikes_out.num_spikes - out0
    updates = args.neurons * args.steps
    events = input_spikes * args.neurons
    name = f"brian2 {target}, {args.inputs}x{args.neurons} LIF+STDP"
    return (
        f"{name}: {args.steps} time steps in {seconds:.3f} s = {updates / seconds:,.0f} neuron updates/s, "
        f"{events / seconds:,.0f} synaptic events/s "
        f"({input_spikes / (args.inputs * args.steps):.3f} input spikes per line per step, "
        f"{output_spikes} output spikes)"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", default="numpy,cython", help="comma-separated: numpy, cython")
    parser.add_argument("--inputs", type=int, default=55, help="input lines (default: the scalar-channel model)")
    parser.add_argument("--neurons", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20_000, help="time steps timed per target")
    parser.add_argument("--input-rate", type=float, default=0.227, help="spike probability per line per step")
    args = parser.parse_args()

    print(f"brian2 {brian2.__version__}, CPython {platform.python_version()}")
    for target in [t.strip() for t in args.targets.split(",") if t.strip()]:
        try:
            print(time_target(target, args))
        except Exception as err:  # a missing compiler must not hide the numpy figure
            print(f"brian2 {target}: failed ({type(err).__name__}: {err})")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
