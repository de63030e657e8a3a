// Drone footage on the labeling page: the flight readout of the frame on screen (time, altitude,
// heading, sensor angle, from KLV or a DJI SRT; reduced to the dataset's metadata level for people
// without raw access) and, for 16-bit thermal frames, the person's palette. A palette chosen here
// is saved for the person (PATCH /api/protection/me/) and every thermal image follows it.
import { api } from "./http.js";
import { urls } from "./urls.js";
import { $, say } from "./dom.js";

const fixed = (value, digits) => (value === null || value === undefined ? null : Number(value).toFixed(digits));

// The readout's text: the parts the frame has, in a fixed order.
export function readoutText(t) {
  if (!t) return "";
  const parts = [];
  if (t.captured_at) {
    parts.push(t.captured_at.length > 10 ? `${t.captured_at.slice(0, 19).replace("T", " ")} UTC` : t.captured_at);
  }
  if (t.height_m !== null && t.height_m !== undefined) parts.push(`${fixed(t.height_m, 0)} m above ground`);
  else if (t.altitude !== null && t.altitude !== undefined) parts.push(`${fixed(t.altitude, 0)} m MSL`);
  if (t.heading !== null && t.heading !== undefined) parts.push(`heading ${fixed(t.heading, 0)}°`);
  if (t.sensor_angle !== null && t.sensor_angle !== undefined) parts.push(`sensor ${fixed(t.sensor_angle, 0)}° down`);
  if (t.latitude !== null && t.latitude !== undefined && t.longitude !== null && t.longitude !== undefined) {
    parts.push(`${fixed(t.latitude, t.level === "full" ? 5 : 2)}, ${fixed(t.longitude, t.level === "full" ? 5 : 2)}`);
  }
  return parts.join(" · ");
}

export function withPalette(url, palette) {
  if (!palette) return url;
  const clean = url.replace(/([?&])palette=[^&]*&?/, "$1").replace(/[?&]$/, "");
  return `${clean}${clean.includes("?") ? "&" : "?"}palette=${encodeURIComponent(palette)}`;
}

export class DroneView {
  constructor({ onPalette }) {
    this.onPalette = onPalette; // called with the new palette once saved
    this.palette = null;
    this.select = $("thermal-palette");
    this.select.addEventListener("change", () => this.choose(this.select.value));
  }

  // Called before the frame is drawn: the readout, and the image URL in the person's palette.
  prepare(data) {
    const drone = data.drone || {};
    const text = readoutText(drone.telemetry);
    $("flight").textContent = text;
    $("flight").hidden = !text;
    $("flight").title = drone.telemetry ? `Telemetry from ${drone.telemetry.source.toUpperCase()}` : "";
    const thermal = !!drone.palettes;
    $("thermal-controls").hidden = !thermal;
    if (!thermal) return;
    if (!this.select.options.length) {
      for (const name of drone.palettes) this.select.add(new Option(name, name));
    }
    this.palette = this.palette || drone.thermal_palette;
    this.select.value = this.palette;
    data.frame.image_url = withPalette(data.frame.image_url, this.palette);
    if (data.frame.previous_frame) {
      data.frame.previous_frame.image_url = withPalette(data.frame.previous_frame.image_url, this.palette);
    }
  }

  async choose(palette) {
    const { status } = await api("PATCH", urls.me(), { thermal_palette: palette });
    if (status !== 200) { say("The palette could not be saved"); return; }
    this.palette = palette;
    say(`Thermal palette: ${palette}`);
    this.onPalette(palette);
  }
}
