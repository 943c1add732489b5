"""Cleaning: pure text functions (`text`, `privacy`, `near_dup`) and the pipeline that reports on them."""

from studio.clean.config import CleanConfig
from studio.clean.pipeline import CleanReport, clean_posts, split_posts

__all__ = ["CleanConfig", "CleanReport", "clean_posts", "split_posts"]
