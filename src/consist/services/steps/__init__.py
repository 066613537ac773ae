"""Steps: the run engine, a step's inputs and outputs, and fan-out over many items."""
