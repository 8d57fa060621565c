"""One data pipeline: sources -> modality transform -> grain shuffle/shard/batch -> global arrays."""
