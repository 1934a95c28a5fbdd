"""GitHub integration (network): the Action, the pull-request bot and review suggestions."""
