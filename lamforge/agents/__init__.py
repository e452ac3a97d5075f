"""The agent runtime: agents, the episode loop and its trajectory log."""
