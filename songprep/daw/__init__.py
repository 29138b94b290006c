"""DAW-ready output: MIDI files with tempo map, section markers and lyrics; stem bundles."""
