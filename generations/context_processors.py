"""What every page of the site and the admin shows: warnings about the configured models
(contract §12), from the last background listing, read without I/O."""

from generations import model_status


def model_warnings(request) -> dict:
    return {"model_warnings": model_status.status.warnings()}
