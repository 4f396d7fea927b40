"""Floor 1, models: where a job computes, build, train, prune and sample the UNets."""
