"""List the built-in scenarios with the first line of their docstrings."""

from simdist.program.scenarios import BUILTIN

for name, function in BUILTIN.items():
    print(f"{name:<15} {function.__doc__.splitlines()[0]}")
