"""Redaction: derived renditions of frames with faces and other identifying regions hidden.

faces (the CenterFace detector), render (pure: pixels + regions + method), regions (the
regions of a frame and who changed them), derived (renditions, content-addressed, with lineage;
what serving and exports ask for), runs (the chunked job), versions (signed derived dataset
versions), metadata (what derived data keeps of times, file names and positions)."""
