"""Use a measured profile from Python: predict collective times, and simulate with them."""

from simdist import LaunchSpec, ScenarioOptions, load_profile, simulate

profile = load_profile("tutorials/examples/profiles/gloo-2cpu.json")
print(profile.describe())

# What the fit predicts for an all_reduce over 2 ranks on this machine, size by size.
for label, size in (("8 B", 8), ("64 KiB", 2**16), ("4 MiB", 2**22), ("64 MiB", 2**26)):
    seconds = profile.predict("all_reduce", size, 2)
    print(f"all_reduce {label:>6}: {seconds * 1e6:9.1f} µs  (algbw {size / seconds / 1e9:.3f} GB/s)")

# The same numbers time a simulation: ScenarioOptions(profile=…) takes the file (or a Profile).
trace = simulate(LaunchSpec(nproc_per_node=2), scenario="tutorials/examples/scenarios/bucket.py:bucket",
                 scenario_options=ScenarioOptions(profile="tutorials/examples/profiles/gloo-2cpu.json"))
collective = trace.of_kind("collective")[0].detail
print(f"simulated: {collective['op']} of {collective['bytes'] // 2**20} MiB took "
      f"{(collective['end'] - collective['start']) * 1e3:.2f} ms")
print("trace says:", trace.to_dict()["cost_model"]["source"])
