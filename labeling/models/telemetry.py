"""What a frame says about its flight and its conditions: the telemetry record matched to it
(KLV ST 0601 in the MPEG-TS, or a DJI SRT cue), and the descriptors computed at ingest (night,
thermal, motion blur, altitude and sensor-angle bands) that the sampler stratifies by and that
model evaluation reports on. Both are one row per frame, kept apart from the frame's own row so
that reading frames stays as cheap as it was."""
from django.db import models

from .footage import Frame


class FrameTelemetry(models.Model):
    """Typed columns for what people filter on; every value the source gave in `values`.

    - `altitude_m`: above mean sea level (KLV sensor true altitude; SRT abs_alt);
    - `height_m`: above the ground under the aircraft where the source says it (KLV: sensor
      altitude minus frame-centre elevation; SRT: rel_alt, above the take-off point);
    - `heading`: the platform's heading, degrees from true north;
    - `sensor_angle`: the sensor's depression below the horizon, degrees (90 = straight down;
      KLV: -(platform pitch + sensor relative elevation); SRT: -gimbal pitch)."""

    KLV, SRT = "klv", "srt"
    SOURCES = [(KLV, "KLV (MISB ST 0601)"), (SRT, "DJI SRT")]

    frame = models.OneToOneField(Frame, on_delete=models.CASCADE, primary_key=True, related_name="telemetry")
    source = models.CharField(max_length=4, choices=SOURCES)
    captured_at = models.DateTimeField(null=True, blank=True)
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    altitude_m = models.FloatField(null=True, blank=True)
    height_m = models.FloatField(null=True, blank=True)
    heading = models.FloatField(null=True, blank=True)
    sensor_angle = models.FloatField(null=True, blank=True)
    values = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [models.Index(fields=["captured_at"], name="telemetry_time_idx"),
                   models.Index(fields=["height_m"], name="telemetry_height_idx"),
                   models.Index(fields=["altitude_m"], name="telemetry_altitude_idx"),
                   models.Index(fields=["latitude", "longitude"], name="telemetry_position_idx")]


class FrameCondition(models.Model):
    """Descriptors of one frame (labeling.footage.conditions says how each is computed)."""

    frame = models.OneToOneField(Frame, on_delete=models.CASCADE, primary_key=True, related_name="condition")
    brightness = models.FloatField(help_text="Mean grey level 0-255 (16-bit frames: after the display mapping)")
    sharpness = models.FloatField(help_text="Variance of the Laplacian on a fixed-size grey copy")
    blur_effect = models.FloatField(help_text="Crété-Roffet blur effect, 0 (sharp) to 1")
    night = models.BooleanField(null=True, help_text="None for thermal frames (no daylight needed)")
    blurred = models.BooleanField(default=False)
    thermal = models.BooleanField(default=False)
    altitude_band = models.CharField(max_length=12, blank=True, help_text="From the height above ground")
    view_band = models.CharField(max_length=12, blank=True, help_text="From the sensor's depression angle")

    class Meta:
        indexes = [models.Index(fields=["night", "blurred", "thermal"], name="condition_flags_idx")]
