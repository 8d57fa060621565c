"""Launchers: sweep expansion, TPU VM and GPU (SLURM) commands. Everything can be printed with --dry-run."""
