"""Flight telemetry per frame: MISB ST 0601 KLV inside MPEG-TS (`klv`, `mpegts`), DJI `.SRT`
sidecars (`srt`), and matching records to frames by time (`match`)."""
