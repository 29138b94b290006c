"""Lyric markup dialects. LeVo's is the one the prep pipeline writes."""
