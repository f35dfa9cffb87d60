"""Print the keys of the JSON documents simdist writes: simdist.plan/1 and simdist.trace/1."""

import json
import subprocess
import sys


def simdist_json(*args: str) -> dict:
    done = subprocess.run([sys.executable, "-m", "simdist", *args, "-f", "json"], capture_output=True, text=True)
    return json.loads(done.stdout)


plan = simdist_json("explain", "--nnodes", "2", "--nproc", "2", "--master-addr", "192.168.5.228", "--master-port", "29400")
trace = simdist_json("simulate", "--nnodes", "2", "--nproc", "2", "--master-addr", "192.168.5.228", "--master-port", "29400",
                     "--start-times", "0,0", "--scenario", "allreduce")

print(plan["schema"])
print("  top level:", ", ".join(plan))
print("  launch:   ", ", ".join(plan["launch"]))
print("  nodes[i]: ", ", ".join(plan["nodes"][0]))
print("  workers[i]:", ", ".join(plan["workers"][0]))
print("  warnings[i]:", ", ".join(plan["warnings"][0]))
print(trace["schema"])
print("  top level:", ", ".join(trace))
print("  events[i]:", ", ".join(trace["events"][0]))
print("  event kinds:", ", ".join(sorted({e["kind"] for e in trace["events"]})))
print("  results[i]:", ", ".join(trace["results"][0]))
print("  machines[i]:", ", ".join(trace["machines"][0]))
print("  scenario: ", ", ".join(trace["scenario"]))
print("  outcome:  ", trace["outcome"])
