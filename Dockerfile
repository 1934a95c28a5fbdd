# syntax=docker/dockerfile:1
# The image the hardener GitHub Action runs in.

# Build wheels in a throwaway stage: no compiler, pip cache or source tree reaches the final image.
FROM python:3.12-slim@sha256:78387bc3881b8273120a12ebe6c1ab22b018ccc2c9adf565ae1ac9b536e184ea AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY hardener ./hardener
RUN pip wheel --no-cache-dir --wheel-dir /wheels '.[compose,github]'

# hardener: ignore=HD101 -- GitHub runs container actions as root with the workspace owned by the runner's user; a non-root USER could not read it
# hardener: ignore=HD109 -- a one-shot process per workflow step: there is nothing to probe
FROM python:3.12-slim@sha256:78387bc3881b8273120a12ebe6c1ab22b018ccc2c9adf565ae1ac9b536e184ea
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index /wheels/*.whl
# GitHub starts the action in the workspace, a checkout that may come from a pull request: its folders must not
# shadow hardener's modules, as `python -m` would let them by putting the working directory first on sys.path.
ENV PYTHONSAFEPATH=1
ENTRYPOINT ["python", "-m", "hardener.github.action"]
