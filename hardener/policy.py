"""What hardening a container means, decided once for compose services and docker SDK calls alike."""

from __future__ import annotations

# Sockets that give whoever can open them control of the container engine, and so of the host.
SOCKETS = ("/var/run/docker.sock", "/run/docker.sock", "/var/run/podman/podman.sock", "/run/containerd/containerd.sock")
