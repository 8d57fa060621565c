"""Pure Flax NNX modules. No training logic lives here."""
