"""Tools → Workflows: the list, the YAML editor beside the graph, runs and their history."""
