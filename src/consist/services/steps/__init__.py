"""Running a step: the engine, step inputs and outputs, loaders, hydration, fan-out."""
