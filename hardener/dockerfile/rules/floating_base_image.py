from __future__ import annotations

from hardener.dockerfile.bases import external_bases
from hardener.model import Severity
from hardener.rules.base import Example, Rule


class FloatingBaseImage(Rule):
    id = "HD106"
    name = "floating-base-image"
    kind = "dockerfile"
    summary = "Base images should name a version, not `latest` or nothing"
    severity = Severity.WARNING
    rationale = (
        "An untagged or `latest` base image changes whenever its publisher pushes: builds stop being "
        "reproducible and a breaking or compromised release arrives unreviewed. Name a version tag (and pin "
        "its digest)."
    )
    references = (
        "hadolint DL3006",
        "hadolint DL3007",
        "CIS Docker Benchmark v1.6 4.2",
        "Checkov CKV_DOCKER_7",
        "Trivy DS-0001",
    )
    hadolint = ("DL3006", "DL3007")
    valid = (
        "FROM python:3.12-slim\n",
        "FROM debian:12 AS base\nFROM base\n",
        "FROM scratch\n",
        "FROM python@sha256:2d3b7cdbbeda2b0bdfd4fb6f2b26a7aab4d2a4c0b6b6c1e1e8f2ab9e1c1d1e2f\n",
    )
    invalid = (
        Example("FROM python\n"),
        Example("FROM ghcr.io/acme/base:latest AS base\nFROM base\n"),
        Example("ARG TAG=latest\nFROM redis:${TAG}\n"),
        # One ARG feeding two FROMs: one finding, on the first.
        Example("ARG BASE=python\nFROM $BASE AS build\nFROM ${BASE}\n"),
    )

    def check(self, document, context):
        for instr, ref in external_bases(document):
            if ref.floats:
                how = "is untagged (that means `latest`)" if ref.tag is None else "uses the `latest` tag"
                yield self.finding(instr.start_line, f"base image `{ref.text}` {how}; name a version")
