"""What the benchmark areas (bench/areas/) share."""
