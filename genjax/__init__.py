"""genjax: generative models of text, images and audio in JAX/Flax."""
