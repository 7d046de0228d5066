"""User-facing errors.

Every error a user can cause (bad config, missing data, bad prior, corrupt checkpoint) is raised
as a :class:`PriormatchError` whose message is one line that names the culprit and the fix. The
CLI prints it as ``priormatch: error: <message>`` and exits with status 2. It subclasses
``ValueError`` so library users can catch it as such.
"""


class PriormatchError(ValueError):
    """A bad input: the message names the culprit and how to fix it, on one line."""
