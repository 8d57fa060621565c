"""genjax: generative models of text, images and audio in JAX/Flax."""

from genjax import allocator

allocator.keep_freed_memory()  # before JAX starts its CPU threads (see allocator.py)
