"""The one trainer: mesh, sharded state, jitted steps, loop, checkpoints, logging."""
