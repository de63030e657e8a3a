// The segment page's tracks, as plain data and pure functions (the rules are the server's,
// labeling/work/segment_tracks.py): between two keyframes a track is interpolated linearly;
// after its last keyframe it holds its box to the end of the segment; a keyframe marked
// `outside` says the object left the view there (the track pauses until its next keyframe, or
// ends); `occluded` holds until the next keyframe.
//
// A track: {id, cls, attributes, keyframes: Map(frame -> kf), hidden, locked}
// A keyframe (kf): {x, y, w, h, outside?, occluded?, source?, model_version?}

export function newTrack(id, cls, attributes = {}) {
  return { id, cls, attributes, keyframes: new Map(), hidden: false, locked: false };
}

export function sortedFrames(track) {
  return [...track.keyframes.keys()].sort((a, b) => a - b);
}

// The box of a track on `frame`: {x, y, w, h, keyframe, occluded, source} or null (not started
// yet, or outside the view there).
export function boxAt(track, frame) {
  const frames = sortedFrames(track);
  let before = null;
  let after = null;
  for (const f of frames) {
    if (f <= frame) before = f;
    else { after = f; break; }
  }
  if (before === null) return null;
  const a = track.keyframes.get(before);
  if (a.outside) return null;
  if (before === frame) return { x: a.x, y: a.y, w: a.w, h: a.h, keyframe: true, occluded: !!a.occluded, source: a.source };
  const b = after === null ? null : track.keyframes.get(after);
  if (!b || b.outside) return { x: a.x, y: a.y, w: a.w, h: a.h, keyframe: false, occluded: !!a.occluded };
  const t = (frame - before) / (after - before);
  const mix = (p, q) => Math.round((p + (q - p) * t) * 100) / 100;
  return { x: mix(a.x, b.x), y: mix(a.y, b.y), w: mix(a.w, b.w), h: mix(a.h, b.h), keyframe: false,
           occluded: !!a.occluded };
}

// Spans for the timeline: [{from, to, kind}] with kind "on" (interpolated or held) or "outside".
export function spans(track, last) {
  const frames = sortedFrames(track);
  const out = [];
  frames.forEach((f, i) => {
    const to = i + 1 < frames.length ? frames[i + 1] - 1 : last;
    out.push({ from: f, to, kind: track.keyframes.get(f).outside ? "outside" : "on" });
  });
  return out;
}

export function firstLast(track) {
  const frames = sortedFrames(track).filter((f) => !track.keyframes.get(f).outside);
  return frames.length ? [frames[0], sortedFrames(track).at(-1)] : [null, null];
}

// A person changed the box on `frame` (moved, resized, drew it): it becomes a keyframe. A model's
// box the person changed is "adjusted" (with its model version); any other change is "drawn".
export function setBox(track, frame, box) {
  const old = track.keyframes.get(frame);
  const kf = { x: box.x, y: box.y, w: box.w, h: box.h, occluded: old?.occluded || boxAt(track, frame)?.occluded || false };
  const model = old?.model_version;
  if (old && !old.outside && (old.source === "suggestion" || old.source === "adjusted" || old.source === "propagated") && model) {
    kf.source = "adjusted";
    kf.model_version = model;
  } else {
    kf.source = "drawn";
  }
  track.keyframes.set(frame, kf);
}

// Outside at `frame`: toggles (a keyframe marked outside is removed again).
export function toggleOutside(track, frame) {
  const kf = track.keyframes.get(frame);
  if (kf?.outside) { track.keyframes.delete(frame); return false; }
  track.keyframes.set(frame, { outside: true });
  return true;
}

// Occluded from `frame` (to the next keyframe): toggles; the frame becomes a keyframe.
export function toggleOccluded(track, frame) {
  const box = boxAt(track, frame);
  if (!box) return null;
  const kf = track.keyframes.get(frame) || { x: box.x, y: box.y, w: box.w, h: box.h, source: "drawn" };
  kf.occluded = !box.occluded;
  track.keyframes.set(frame, kf);
  return kf.occluded;
}

// Split at `frame`: the track keeps what comes before (and leaves the view at `frame`); a new
// track `newId` takes the object from `frame` on (its box there becomes a keyframe).
export function split(track, frame, newId) {
  const box = boxAt(track, frame);
  if (!box) return null;
  const part = newTrack(newId, track.cls, { ...track.attributes });
  for (const f of sortedFrames(track)) {
    if (f >= frame) { part.keyframes.set(f, track.keyframes.get(f)); track.keyframes.delete(f); }
  }
  if (!part.keyframes.has(frame)) {
    part.keyframes.set(frame, { x: box.x, y: box.y, w: box.w, h: box.h, occluded: box.occluded, source: "drawn" });
  }
  if (track.keyframes.size) track.keyframes.set(frame, { outside: true });
  return part;
}

// Merge `other` into `track`: one object seen as two tracks (an identity switch). `other`'s
// keyframes join `track`'s (track's own win where both have one); where `track` left the view
// before `other` starts, the gap is bridged.
export function merge(track, other) {
  for (const f of sortedFrames(other)) {
    if (!track.keyframes.has(f) || track.keyframes.get(f).outside) track.keyframes.set(f, other.keyframes.get(f));
  }
  return track;
}

// Propagated boxes ([{frame, x, y, w, h}]) become keyframes ("propagated"); a person's own
// keyframes in that range are kept, earlier proposals in the direction of the run replaced.
export function applyPropagated(track, start, direction, boxes, modelVersion) {
  const ahead = (f) => (direction === "forward" ? f > start : f < start);
  for (const f of sortedFrames(track)) {
    if (ahead(f) && track.keyframes.get(f).source === "propagated") track.keyframes.delete(f);
  }
  for (const b of boxes) {
    if (track.keyframes.has(b.frame) && track.keyframes.get(b.frame).source !== "propagated") continue;
    const kf = { x: b.x, y: b.y, w: b.w, h: b.h, source: "propagated" };
    if (modelVersion) kf.model_version = modelVersion;
    track.keyframes.set(b.frame, kf);
  }
}

// A suggested track (server: state.suggestions.tracks[i]) as a track of the person's own.
export function fromSuggestion(suggestion, id, modelVersion) {
  const track = newTrack(id, suggestion.class);
  for (const k of suggestion.keyframes) {
    track.keyframes.set(k.frame, k.outside ? { outside: true }
      : { x: k.x, y: k.y, w: k.w, h: k.h, source: "suggestion", model_version: modelVersion });
  }
  return track;
}

// ---------------------------------------------------------------- to and from the server's shape
export function toPayload(tracks, tags) {
  return {
    tracks: tracks.filter((t) => t.keyframes.size).map((t) => ({
      track_id: t.id, class: t.cls, attributes: t.attributes || {},
      keyframes: sortedFrames(t).map((f) => {
        const k = t.keyframes.get(f);
        if (k.outside) return { frame: f, outside: true };
        const out = { frame: f, x: round(k.x), y: round(k.y), w: round(k.w), h: round(k.h) };
        if (k.occluded) out.occluded = true;
        if (k.source && k.source !== "drawn") out.source = k.source;
        if (k.model_version) out.model_version = k.model_version;
        return out;
      }),
    })),
    tags: tags.map((t) => ({ class: t.cls, from: Math.min(t.from, t.to), to: Math.max(t.from, t.to) })),
  };
}

export function fromPayload(payload) {
  const tracks = (payload?.tracks || []).map((t) => {
    const track = newTrack(t.track_id, t.class, t.attributes || {});
    for (const k of t.keyframes || []) {
      const { frame, ...rest } = k;
      track.keyframes.set(frame, rest);
    }
    return track;
  });
  const tags = (payload?.tags || []).map((t) => ({ cls: t.class, from: t.from, to: t.to }));
  return { tracks, tags };
}

function round(v) { return Math.round(v * 100) / 100; }
