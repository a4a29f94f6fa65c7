from django.apps import AppConfig


class BenchConfig(AppConfig):
    """The performance benchmark (`make bench`): data generator and measured figures."""

    name = "bench"
    verbose_name = "Benchmark"
