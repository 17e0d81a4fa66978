"""The exceptions octracker raises; every message names the thing at fault and the next move."""

from __future__ import annotations


class OctrackerError(Exception):
    """Root of every error octracker raises on purpose."""

    #: Process exit status when this error ends a command.
    exit_code = 1


class UsageError(OctrackerError):
    """The command was called wrongly (unknown pipeline, bad flag value)."""

    exit_code = 2


class InputRefused(OctrackerError):
    """A file, row or document was refused; nothing from it was loaded."""

    exit_code = 2


class SpecError(InputRefused):
    """A pipeline spec, sidecar or catalog file is invalid."""


class WarehouseBusy(OctrackerError):
    """Another process holds the warehouse for writing."""

    exit_code = 1


class NothingPublished(OctrackerError):
    """No published copy, or no lake, exists yet: nothing was refreshed into this warehouse so far."""

    exit_code = 1


class PipelineFailed(OctrackerError):
    """A pipeline failed for a reason other than bad input; other pipelines still committed."""

    exit_code = 1


class PublishFailed(OctrackerError):
    """The data committed, but the read-only copy analysts read could not be written (a full disk)."""

    exit_code = 1
