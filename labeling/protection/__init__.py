"""Annotator protection: graphic footage is blurred by default, revealed on demand and counted;
the queue enforces consent, daily caps, interleaving and breaks on the server.

- `policy`: each project's protection policy (with defaults) and "does this project have
  sensitive frames?";
- `flags`: which frames are sensitive and why (uploader, sensitive class, report, model);
- `state`: a person's consent, preferences and exposure (today, this week, in their time zone);
- `rules`: the pure decisions (caps, interleaving, breaks, micro-breaks, warnings);
- `gate`: the queue policy that applies them under a lock on the person's row;
- `reveal`: short-lived per-person signed URLs to originals, each an exposure with a duration;
- `renditions`: blurred (and greyscale) images at a project's blur strength;
- `wellbeing`: private check-ins and the leads' aggregates.
"""
