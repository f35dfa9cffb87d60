"""Real mode: run a launch through torch's own launcher and compare it with the plan."""

from ._agents import AgentResult, clean_launcher_env, free_port, run_agents

__all__ = ["AgentResult", "clean_launcher_env", "free_port", "run_agents"]
