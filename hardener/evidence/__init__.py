"""What the repository says about a file, read before a fix changes how a container behaves.

Behaviour-changing fixes apply only on evidence: the entrypoint script a Dockerfile starts, the role
of each file (production, development, test, ...), which images other builds start from, where a
service keeps its data. The edge reads the repository's supporting files once (`gather`); everything
here works on those texts and does no I/O.
"""
