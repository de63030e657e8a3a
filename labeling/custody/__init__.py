"""Custody of the data over years: retention policies that delete raw frames and derived
renditions when they are due, legal holds that suspend every deletion under them, and the
tombstones that say what was deleted, when and why (so a signed manifest still verifies)."""
