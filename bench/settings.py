"""The product's settings plus the benchmark's own routes (a bare view, the backbone's webhook)."""

from core.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
