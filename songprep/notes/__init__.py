"""Note transcription: vocal melody and accompaniment notes from stems, tied to lyric words."""
