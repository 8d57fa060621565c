"""One data pipeline: sources -> a batch read -> modality batch transform -> grain prefetch -> global arrays."""
