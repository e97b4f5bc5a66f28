"""tests.process_settings with the OpenTelemetry SDK configured, as a site would: the spans of the
process are appended to the JSON Lines file ``HOUSEKEEPING_PROCESS_SPANS`` names."""

import os

from tests.process_settings import *  # noqa: F403
from tests.tracing_setup import to_file

to_file(os.environ["HOUSEKEEPING_PROCESS_SPANS"])
