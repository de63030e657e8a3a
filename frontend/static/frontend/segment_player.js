// Frame-exact playback of a segment: the frames are the stored renditions (one image URL per
// frame, never video time). A window of frames around the playhead is fetched and decoded ahead
// (Image.decode), so a frame is shown only once it can be painted at once; playing advances one
// frame per 1/fps second and never skips one (a frame not decoded yet holds the playhead: the
// page counts it as a stall). `stats` is what bench/playback.py reads.

const AHEAD = 40;
const BEHIND = 8;
const KEEP = 160; // decoded frames kept in memory

export class Player {
  // frames: [{index, url}]; onShow(index): paint that frame (its image is decoded)
  constructor({ frames, fps, onShow, onState }) {
    this.frames = frames;
    this.first = frames[0].index;
    this.last = frames.at(-1).index;
    this.fps = fps || 25;
    this.onShow = onShow;
    this.onState = onState || (() => {});
    this.current = this.first;
    this.cache = new Map(); // index -> Promise resolved when decoded
    this.ready = new Set();
    this.playing = false;
    this.stats = { painted: 0, stalls: 0, started: 0, playedFrames: 0, seeks: [] };
  }

  url(index) { return this.frames[index - this.first]?.url; }

  setUrl(index, url) { // a frame's served image changed (a report made it sensitive)
    const f = this.frames[index - this.first];
    if (f) { f.url = url; this.cache.delete(index); this.ready.delete(index); }
  }

  load(index) {
    if (index < this.first || index > this.last) return Promise.resolve(false);
    let p = this.cache.get(index);
    if (!p) {
      const img = new Image();
      img.src = this.url(index);
      p = img.decode().then(() => { this.ready.add(index); img.dataset.keep = "1"; return img; }, () => false);
      p.image = img;
      this.cache.set(index, p);
    }
    return p;
  }

  prefetch(center) {
    for (let i = center; i <= Math.min(this.last, center + AHEAD); i++) this.load(i);
    for (let i = Math.max(this.first, center - BEHIND); i < center; i++) this.load(i);
    if (this.cache.size > KEEP) { // forget the farthest
      const far = [...this.cache.keys()].sort((a, b) => Math.abs(b - center) - Math.abs(a - center));
      for (const i of far.slice(0, this.cache.size - KEEP)) { this.cache.delete(i); this.ready.delete(i); }
    }
  }

  clamp(index) { return Math.min(this.last, Math.max(this.first, Math.round(index))); }

  // Show `index` as soon as it is decoded (seeking, stepping); returns when it is painted.
  async seek(index) {
    const target = this.clamp(index);
    const began = performance.now();
    this.current = target;
    this.prefetch(target);
    await this.load(target);
    if (this.current !== target) return; // a later seek won
    this.show(target);
    await new Promise((r) => requestAnimationFrame(() => r()));
    this.stats.seeks.push(performance.now() - began);
  }

  step(n) { this.pause(); return this.seek(this.current + n); }

  show(index) {
    this.current = index;
    this.onShow(index);
    this.stats.painted += 1;
  }

  toggle() { if (this.playing) this.pause(); else this.play(); }

  play() {
    if (this.playing) return;
    if (this.current >= this.last) this.current = this.first - 1; // from the start again
    this.playing = true;
    this.onState(true);
    this.stats.started = performance.now();
    this.stats.playedFrames = 0;
    const period = 1000 / this.fps;
    let due = performance.now();
    const tick = (now) => {
      if (!this.playing) return;
      const next = this.current + 1;
      if (next > this.last) { this.pause(); return; }
      if (now >= due - 2) {
        if (this.ready.has(next)) {
          this.show(next);
          this.stats.playedFrames += 1;
          due = Math.max(due + period, now - period); // late by more than a frame: do not rush to catch up
          this.prefetch(next);
        } else {
          this.stats.stalls += 1; // not decoded yet: the playhead waits (no frame is ever skipped)
          this.load(next);
          this.prefetch(next);
        }
      }
      requestAnimationFrame(tick);
    };
    this.prefetch(this.current + 1);
    requestAnimationFrame(tick);
  }

  pause() {
    if (!this.playing) return;
    this.playing = false;
    this.stats.seconds = (performance.now() - this.stats.started) / 1000;
    this.onState(false);
  }
}
