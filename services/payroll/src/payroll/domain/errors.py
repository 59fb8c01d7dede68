"""Why a payment cannot be posted. Every one of these is permanent: retrying cannot fix it."""


class InvalidPostingError(ValueError):
    """The event that asked for a payment lacks what a posting needs, or its amount is
    impossible (not positive, or beyond a signed 64-bit integer)."""

    def __init__(self, field: str, description: str) -> None:
        super().__init__(f"{field}: {description}")
        self.field = field
        self.description = description


class UnbalancedPostingError(InvalidPostingError):
    """A posting whose lines do not sum to zero; double entry forbids it."""
