"""The distribution's version, read by packaging and reported by ``/health`` and ``version``."""

__version__ = "0.1.0"
