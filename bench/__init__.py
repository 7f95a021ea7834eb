"""Throughput and latency benchmarks on real RabbitMQ and PostgreSQL (``bench/run.py``)."""
