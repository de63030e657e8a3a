"""Build provenance: what software made an export or a model. `sbom` describes the running
installation as a CycloneDX SBOM; `bills` keeps one signed, content-addressed SBOM per software
state and gives the current one's sha256 to exports and training."""
