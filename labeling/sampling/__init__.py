"""Active-learning sampling: which frames to send to annotators next (pure functions in
`strategies`; no database, no torch)."""
